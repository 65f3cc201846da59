"""Every registered variant: shapes, finiteness, gradients, causality, parameter counts, configs."""

from __future__ import annotations

import pytest
import torch

from poselift.models.attention import AttentionConfig
from poselift.models.flops import count_parameters, flops_per_frame
from poselift.models.registry import create_model, list_models, model_config

SMALL = {"channels": 32}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _randomise_bn(model: torch.nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_(0, 0.5)
            module.running_var.uniform_(0.5, 2.0)


@pytest.mark.parametrize("name", [n for n in list_models() if "729" not in n])
def test_variant_forward_backward(name: str) -> None:
    model = create_model(name, **SMALL)
    x = torch.randn(3, model.receptive_field, 17, 2) * 0.3
    out = model(x)
    assert out.shape == (3, 1, 17, 3)
    assert torch.isfinite(out).all()
    out.pow(2).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.parametrize("name", ["atcn_729f", "atcn_729f_causal"])
def test_deepest_variants_run(name: str) -> None:
    model = create_model(name, channels=16).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 729, 17, 2))
    assert out.shape == (1, 1, 17, 3) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", [n for n in list_models("*causal") if "729" not in n])
def test_causal_models_ignore_the_future(name: str) -> None:
    """In a causal window the target is the last frame; changing the target frame must change the output."""
    model = create_model(name, **SMALL).eval()
    _randomise_bn(model)
    rf = model.receptive_field
    sequence = torch.randn(1, rf + 10, 17, 2) * 0.3
    with torch.no_grad():
        before = model(sequence[:, :rf])
        changed = sequence.clone()
        changed[:, rf:] = torch.randn_like(changed[:, rf:])  # frames after the target
        after = model(changed[:, :rf])
        assert torch.equal(before, after)
        moved = sequence[:, :rf].clone()
        moved[:, -1] += 0.2
        assert not torch.allclose(model(moved), before)


@pytest.mark.parametrize("name", ["atcn_27f", "atcn_81f", "atcn_243f"])
def test_symmetric_models_see_both_sides(name: str) -> None:
    model = create_model(name, **SMALL).eval()
    _randomise_bn(model)
    x = torch.randn(1, model.receptive_field, 17, 2) * 0.3
    with torch.no_grad():
        base = model(x)
        for frame in (0, model.receptive_field - 1):
            y = x.clone()
            y[:, frame] += 0.5
            assert not torch.allclose(model(y), base)


def test_paper_parameter_count_and_flops() -> None:
    model = create_model("atcn_243f")
    assert model.receptive_field == 243
    assert count_parameters(model) == 14_520_363
    assert 185e6 < flops_per_frame(model) < 200e6  # the spec: about 192 MFLOP per output frame


def test_videopose3d_parameter_count() -> None:
    # VideoPose3D's 243-frame, 1024-channel network has 16.95M parameters.
    assert count_parameters(create_model("videopose3d_243f")) == 16_952_371


@pytest.mark.parametrize(("name", "frames"), [("atcn_27f", 27), ("atcn_81f", 81), ("atcn_243f", 243),
                                             ("atcn_729f", 729), ("videopose3d_27f", 27), ("videopose3d_1f", 1)])
def test_receptive_fields(name: str, frames: int) -> None:
    assert model_config(name).receptive_field == frames


def test_attention_options_change_the_architecture() -> None:
    full = count_parameters(create_model("atcn_81f", channels=64))
    no_kernel = count_parameters(create_model("atcn_81f", channels=64, kernel_attention=False))
    no_temporal = count_parameters(create_model("atcn_81f", channels=64, temporal_attention=False))
    single_scale = count_parameters(create_model("atcn_81f", channels=64, multi_scale=False))
    assert no_kernel < full and no_temporal < full and single_scale < full
    model = create_model("atcn_81f", channels=64, temporal_attention=False, kernel_attention=False)
    assert model(torch.randn(2, 81, 17, 2)).shape == (2, 1, 17, 3)


def test_bad_receptive_field_is_refused() -> None:
    with pytest.raises(ValueError, match="power of 3"):
        create_model("atcn_27f", receptive_field=30)
    with pytest.raises(ValueError, match="power of 3"):
        AttentionConfig(receptive_field=100).validate()


def test_videopose3d_forms_agree() -> None:
    """The strided training form and the full-sequence form share weights and give the same outputs."""
    for name in ("videopose3d_27f", "videopose3d_243f_causal"):
        model = create_model(name, channels=32).eval()
        _randomise_bn(model)
        rf = model.receptive_field
        sequence = torch.randn(2, rf + 20, 17, 2) * 0.3
        with torch.no_grad():
            full = model.forward_sequence(sequence)
            windows = sequence.unfold(1, rf, 1).permute(0, 1, 4, 2, 3).reshape(-1, rf, 17, 2)
            strided = model.forward_strided(windows).reshape(2, -1, 17, 3)
        assert full.shape == (2, 21, 17, 3)
        torch.testing.assert_close(full, strided, atol=1e-5, rtol=1e-5)
