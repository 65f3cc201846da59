"""Per-frame input normalisation: what it removes, and that models built with it ignore what it removes."""

from __future__ import annotations

import pytest
import torch

from poselift.models.attention import AttentionConfig
from poselift.models.input_norm import normalise_input
from poselift.models.registry import create_model
from poselift.models.weights import load_weights, save_weights


def _keypoints(frames: int = 30, seed: int = 0) -> torch.Tensor:
    return torch.randn(frames, 17, 2, generator=torch.Generator().manual_seed(seed)) * 0.2


def _move_and_scale(x: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """Each frame shifted and scaled by its own random amounts (a person walking and changing size)."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.rand(x.shape[0], 1, 1, generator=g) * 3 + 0.2
    shift = torch.randn(x.shape[0], 1, 2, generator=g)
    return x * scale + shift


def test_frame_normalisation_centres_and_scales_each_frame() -> None:
    y = normalise_input(_keypoints(), "frame")
    torch.testing.assert_close(y.mean(dim=1), torch.zeros(30, 2), atol=1e-6, rtol=0)
    torch.testing.assert_close(y.square().sum(-1).mean(-1), torch.ones(30), atol=1e-5, rtol=0)
    torch.testing.assert_close(normalise_input(_move_and_scale(_keypoints()), "frame"), y, atol=1e-5, rtol=0)


def test_screen_is_the_identity_and_unknown_modes_are_refused() -> None:
    x = _keypoints()
    assert normalise_input(x, "screen") is x
    with pytest.raises(ValueError, match="input_norm must be one of"):
        normalise_input(x, "bbox")
    with pytest.raises(ValueError, match="input_norm must be one of"):
        AttentionConfig(receptive_field=27, input_norm="bbox").validate()


@pytest.mark.parametrize("name", ["atcn_27f", "atcn_27f_causal", "videopose3d_27f"])
def test_a_frame_normalised_model_ignores_where_and_how_big_the_person_is(name: str) -> None:
    model = create_model(name, channels=32, input_norm="frame").eval()
    screen = create_model(name, channels=32).eval()
    screen.load_state_dict(model.state_dict())
    x = _keypoints(27)[None]
    moved = _move_and_scale(x[0])[None]
    with torch.no_grad():
        torch.testing.assert_close(model(moved), model(x), atol=1e-5, rtol=0)
        assert (screen(moved) - screen(x)).abs().max() > 1e-3  # the same weights without it do not


def test_the_mode_travels_with_the_weights(tmp_path) -> None:
    model = create_model("atcn_27f", channels=16, input_norm="frame").eval()
    loaded = load_weights(save_weights(model, tmp_path / "m.safetensors", {}))
    assert loaded.config.input_norm == "frame"
    x = _move_and_scale(_keypoints(27))[None]
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_frame_place_adds_where_the_body_is_and_how_big_it_looks() -> None:
    x = _keypoints()
    y = normalise_input(x, "frame_place")
    assert y.shape == (30, 19, 2)
    torch.testing.assert_close(y[:, :17], normalise_input(x, "frame"))
    torch.testing.assert_close(y[:, 17], x.mean(dim=1))
    spread = (x - x.mean(dim=1, keepdim=True)).square().sum(-1).mean(-1).sqrt()
    torch.testing.assert_close(y[:, 18, 1], spread.log())
    torch.testing.assert_close(y[:, 18, 0], torch.zeros(30))


@pytest.mark.parametrize("name", ["atcn_27f", "atcn_27f_causal", "videopose3d_27f"])
def test_a_frame_place_model_sees_where_the_person_is(name: str) -> None:
    model = create_model(name, channels=32, input_norm="frame_place").eval()
    x = _keypoints(27)[None]
    with torch.no_grad():
        assert (model(_move_and_scale(x[0])[None]) - model(x)).abs().max() > 1e-4
