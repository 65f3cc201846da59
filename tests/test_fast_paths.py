"""The fused inference forms compute what the plain models compute (random weights, randomised batch norms)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from poselift.inference import Lifter
from poselift.models import fused
from poselift.models.fused import FusedAttentionNet, fuse_for_inference, mish_, mish_add, run_jobs
from poselift.models.registry import build_model, create_model, list_models
from poselift.skeleton import H36M17

ATOL = 1e-5  # metres; float32 rounding differences are ~1e-6
FAMILIES = [n for n in list_models() if "729" not in n]
ABLATIONS = [{}, {"kernel_attention": False}, {"temporal_attention": False}, {"multi_scale": False},
             {"input_norm": "frame"}, {"input_norm": "frame_place"}]


@pytest.fixture(autouse=True)
def _one_thread():
    """Small models: one intra-op thread is faster (and steadier on a shared machine); restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model(name: str, channels: int = 32, seed: int = 0, **overrides) -> torch.nn.Module:
    """A random model whose batch norms are not identities (random statistics and affine parameters)."""
    torch.manual_seed(seed)
    model = create_model(name, channels=channels, **overrides).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_(0, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.2)
    return model


def _sequence(frames: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy((np.random.default_rng(seed).normal(size=(frames, 17, 2)) * 0.3).astype(np.float32))


def _per_window(model: torch.nn.Module, padded: torch.Tensor) -> torch.Tensor:
    """The straightforward evaluation: one window per output frame through the plain model."""
    rf = model.receptive_field
    with torch.no_grad():
        if hasattr(model, "forward_sequence"):
            return model.forward_sequence(padded[None])[0]
        return model(padded.unfold(0, rf, 1).permute(0, 3, 1, 2).contiguous())[:, 0]


@pytest.mark.parametrize("name", FAMILIES)
def test_windows_forward_matches_plain_model(name: str) -> None:
    model = _model(name)
    fast = fuse_for_inference(model)
    windows = _sequence(3 * model.receptive_field).view(3, model.receptive_field, 17, 2)
    with torch.no_grad():
        expected = model(windows)
    torch.testing.assert_close(fast(windows), expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", FAMILIES)
def test_whole_sequence_matches_per_window_evaluation(name: str) -> None:
    model = _model(name)
    fast = fuse_for_inference(model)
    padded = _sequence(model.receptive_field + 45)
    expected = _per_window(model, padded)
    if isinstance(fast, FusedAttentionNet):
        # Small batches, sub-batches and chunks so that every boundary is crossed; two worker threads.
        got = fast.lift_padded(padded, batch_size=7, sub_batch=3, chunk_windows=19, workers=2)
    else:
        got = fast.lift_padded(padded, chunk_frames=13, workers=2)
    assert got.shape == (46, 17, 3)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("overrides", ABLATIONS, ids=lambda o: ",".join(o) or "full")
@pytest.mark.parametrize("name", ["atcn_81f", "atcn_243f_causal"])
def test_architecture_options_are_fused_too(name: str, overrides: dict) -> None:
    model = _model(name, channels=16, **overrides)
    fast = fuse_for_inference(model)
    padded = _sequence(model.receptive_field + 20, seed=1)
    expected = _per_window(model, padded)
    torch.testing.assert_close(fast.lift_padded(padded, batch_size=8, sub_batch=4), expected, atol=ATOL, rtol=0)
    torch.testing.assert_close(fast(padded[: model.receptive_field][None])[0, 0], expected[0], atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", ["atcn_729f", "atcn_729f_causal"])
def test_deepest_variants(name: str) -> None:
    model = _model(name, channels=8)
    padded = _sequence(model.receptive_field + 5, seed=2)
    got = fuse_for_inference(model).lift_padded(padded, batch_size=4, sub_batch=2)
    torch.testing.assert_close(got, _per_window(model, padded), atol=ATOL, rtol=0)


@pytest.mark.parametrize("flip", [True, False])
@pytest.mark.parametrize("name", [n for n in FAMILIES if n.startswith("atcn") and n.endswith("causal")])
def test_stream_matches_whole_sequence_lifting(name: str, flip: bool) -> None:
    """A causal stream's pose for frame t is the plain model's pose for the window ending at t (edge-padded)."""
    model = _model(name)
    frames = _sequence(model.receptive_field + 12, seed=3).numpy()
    expected = Lifter(model, flip=flip, optimize=False).lift(frames)  # causal: frame t sees frames <= t only
    fast = Lifter(model, flip=flip).stream()
    assert fast._fast is not None
    got = np.stack([fast.push(frame) for frame in frames])
    np.testing.assert_allclose(got, expected, atol=ATOL)
    fast.reset()
    np.testing.assert_allclose(fast.push(frames[5]), Lifter(model, flip=flip, optimize=False).lift(frames[5:6])[0],
                               atol=ATOL)


@pytest.mark.parametrize("input_norm", ["screen", "frame", "frame_place"])
def test_stream_matches_plain_stream(input_norm: str) -> None:
    model = _model("atcn_27f_causal", input_norm=input_norm)
    plain, fast = Lifter(model, optimize=False).stream(), Lifter(model).stream()
    for frame in _sequence(40, seed=8).numpy():
        np.testing.assert_allclose(fast.push(frame), plain.push(frame), atol=ATOL)


@pytest.mark.parametrize("input_norm", ["screen", "frame", "frame_place"])
@pytest.mark.parametrize("name", ["atcn_27f", "atcn_81f_causal", "videopose3d_27f", "videopose3d_243f_causal"])
def test_lifter_optimised_and_plain_agree(name: str, input_norm: str) -> None:
    model = _model(name, input_norm=input_norm)
    keypoints = _sequence(70, seed=4).numpy()
    fast = Lifter(model, flip=True)
    assert fast.fast is not None
    expected = Lifter(model, flip=True, optimize=False).lift(keypoints)
    np.testing.assert_allclose(fast.lift(keypoints), expected, atol=ATOL)


def test_lifter_without_optimisation_uses_the_plain_model() -> None:
    assert Lifter(_model("atcn_27f"), optimize=False).fast is None


def test_dense_fallback_without_onednn(monkeypatch) -> None:
    """Where oneDNN's packed matmul is missing, the dense torch.mm path computes the same."""
    monkeypatch.setattr(fused, "_onednn_pack", lambda weight, dtype: None)
    for name in ("atcn_81f", "videopose3d_27f"):
        model = _model(name)
        fast = fuse_for_inference(model)
        assert not any(k.is_mkldnn for k in fast._kernels.values())
        padded = _sequence(model.receptive_field + 9, seed=5)
        torch.testing.assert_close(fast.lift_padded(padded), _per_window(model, padded), atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", ["atcn_81f", "atcn_27f_causal", "videopose3d_27f"])
def test_bfloat16_is_close_but_not_the_default(name: str) -> None:
    model = _model(name, channels=64)
    padded = _sequence(model.receptive_field + 10, seed=6)
    expected = _per_window(model, padded)
    got = fuse_for_inference(model, precision="bf16").lift_padded(padded)
    error = (got - expected).abs().max() / expected.abs().max()
    assert 0 < error < 0.05
    assert fuse_for_inference(model).precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        fuse_for_inference(model, precision="int8")


def test_fused_models_are_inference_only() -> None:
    fast = fuse_for_inference(_model("atcn_27f"))
    assert not fast.training
    with pytest.raises(RuntimeError, match="inference only"):
        fast.train()
    with pytest.raises(TypeError):
        fuse_for_inference(torch.nn.Linear(2, 2))


def test_mish_helpers_match_torch() -> None:
    x = torch.cat([torch.linspace(-120, 120, 4001), torch.tensor([0.0, -1e-8, 1e-8, 20.0, 21.0, 88.0, 89.0])])
    expected = F.mish(x)
    torch.testing.assert_close(mish_(x.clone()), expected, atol=2e-6, rtol=1e-6)
    residual = torch.randn_like(x)
    torch.testing.assert_close(mish_add(x.clone(), residual), residual + expected, atol=2e-6, rtol=1e-6)
    assert torch.isfinite(mish_(x.clone())).all()


def test_run_jobs_runs_everything_and_restores_threads() -> None:
    torch.set_num_threads(2)
    before = torch.get_num_threads()
    done = []
    run_jobs([lambda i=i: done.append(i) for i in range(7)], workers=2)
    assert sorted(done) == list(range(7))
    assert torch.get_num_threads() == before

    def fail() -> None:
        raise OSError("boom")

    with pytest.raises(OSError, match="boom"):
        run_jobs([fail, fail], workers=2)
    assert torch.get_num_threads() == before


def test_reference_vectors_through_the_fused_model(shared_dir) -> None:
    """The authors' released network (64 channels, random weights) reproduced by the fused form to 1e-4."""
    from poselift.models.convert import convert_state_dict

    name = "attention_243f_64ch"
    data = np.load(shared_dir / "reference" / f"{name}.npz")
    info = json.loads((shared_dir / "reference" / f"{name}.json").read_text())
    state = {k.removeprefix("weight/"): torch.from_numpy(data[k]) for k in data.files if k.startswith("weight/")}
    config, renamed = convert_state_dict(state, causal=bool(info["causal"]))
    model = build_model(config)
    model.load_state_dict(renamed, strict=True)
    got = fuse_for_inference(model.eval())(torch.from_numpy(data["input_2d"].astype(np.float32)))
    np.testing.assert_allclose(got.numpy(), data["output_3d"], atol=1e-4, rtol=0)


def test_stream_flip_uses_the_skeleton_permutation() -> None:
    model = _model("atcn_27f_causal")
    stream = fuse_for_inference(model).stream(H36M17.flip_permutation())
    frame = _sequence(1, seed=7).numpy()[0]
    mirrored = frame[H36M17.flip_permutation()] * np.array([-1.0, 1.0], dtype=np.float32)
    pose = stream.push(frame)
    stream.reset()
    mirrored_pose = stream.push(mirrored)
    np.testing.assert_allclose(mirrored_pose, pose[H36M17.flip_permutation()] * np.array([-1, 1, 1]), atol=ATOL)


@pytest.mark.parametrize("input_norm", ["screen", "frame", "frame_place"])
@pytest.mark.parametrize("name", [n for n in FAMILIES if n.startswith("atcn")])
def test_training_form_has_the_same_loss_gradients_and_batch_norm_updates(name: str, input_norm: str) -> None:
    plain = _model(name, channels=16, dropout=0.0, input_norm=input_norm).train()
    twin = _model(name, channels=16, dropout=0.0, input_norm=input_norm).train()
    fast = fused.training_form(twin)
    assert isinstance(fast, fused.ChannelsLastAttentionNet)
    assert {id(p) for p in fast.parameters()} == {id(p) for p in twin.parameters()}
    windows = _sequence(4 * plain.receptive_field, seed=9).view(4, plain.receptive_field, 17, 2)
    target = torch.randn(4, 1, 17, 3)
    for _ in range(2):  # twice: the second pass sees updated running statistics
        expected = (plain(windows) - target).pow(2).mean()
        got = (fast(windows) - target).pow(2).mean()
        expected.backward()
        got.backward()
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    for (key, a), b in zip(plain.named_parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-5, rtol=1e-4, msg=key)
    for (key, a), b in zip(plain.named_buffers(), twin.buffers(), strict=True):
        torch.testing.assert_close(b, a, atol=1e-6, rtol=1e-5, msg=key)
    fast.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(fast(windows), plain(windows), atol=ATOL, rtol=0)


def test_training_form_applies_dropout_and_leaves_other_models_alone() -> None:
    model = _model("atcn_27f", dropout=0.5).train()
    fast = fused.training_form(model)
    windows = _sequence(2 * 27, seed=10).view(2, 27, 17, 2)
    assert not torch.allclose(fast(windows), fast(windows))
    vp3d = _model("videopose3d_27f")
    assert fused.training_form(vp3d) is vp3d
