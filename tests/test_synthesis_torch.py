"""The torch (device) filming of synthesised views against the numpy path: exact where no noise is drawn,
the same statistics where it is."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poselift.data import synthesis, synthesis_torch
from poselift.data.mocap import MocapClip


def _clips(rng: np.random.Generator) -> list[MocapClip]:
    """Two walking 'people' (17 joints, Y up, standing on the floor), 30 fps."""
    clips = []
    for i, frames in enumerate((90, 60)):
        base = rng.normal(scale=0.15, size=(1, 17, 3)) + np.array([0.0, 1.0, 0.0])
        t = np.linspace(0, 3, frames)[:, None, None]
        joints = base + 0.05 * np.sin(2 * t + rng.uniform(0, 6, (1, 17, 3))) + t * np.array([0.3, 0.0, 0.1])
        clips.append(MocapClip(name=f"d_walk_{i}", subject="s", joints_3d=joints.astype(np.float32), fps=30.0,
                               source="test"))
    return clips


def test_without_noise_the_device_path_films_what_numpy_films(rng):
    """Noise "none" draws nothing after the cameras, so both paths see the same cameras: same data."""
    clips = _clips(rng)
    host = synthesis.synthesize(clips, views_per_clip=3, noise="none", seed=5)
    device = synthesis.synthesize(clips, views_per_clip=3, noise="none", seed=5, device="cpu")
    assert len(host) == len(device) == 6
    for a, b in zip(host, device, strict=True):
        assert (a.camera, a.action, a.fps) == (b.camera, b.action, b.fps)
        np.testing.assert_allclose(b.poses_3d, a.poses_3d, rtol=0, atol=1e-5)
        np.testing.assert_allclose(b.keypoints_2d, a.keypoints_2d, rtol=0, atol=1e-5)
        np.testing.assert_array_equal(b.confidence, a.confidence)


@pytest.mark.parametrize("hold", [False, True])
def test_fill_missing_matches_numpy_within_one_view(rng, hold):
    values = rng.normal(size=(40, 17, 2))
    missing = rng.random((40, 17)) < 0.3
    missing[:3, 0] = True  # runs at both ends
    missing[-4:, 1] = True
    expected = synthesis.fill_missing(values, missing, hold=hold)
    count = torch.full((40,), 40)
    got = synthesis_torch.fill_missing(torch.from_numpy(values), torch.from_numpy(missing),
                                       torch.full((40,), hold), torch.zeros(40, dtype=torch.long), count)
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-12)


def test_filling_never_borrows_from_another_view():
    values = torch.arange(20, dtype=torch.float64).view(20, 1, 1).expand(20, 1, 2).clone()
    missing = torch.zeros(20, 1, dtype=torch.bool)
    missing[8:12] = True  # the end of view 0 (frames 0-9) and the start of view 1 (10-19)
    start = torch.tensor([0] * 10 + [10] * 10)
    end = torch.tensor([10] * 10 + [20] * 10)
    filled = synthesis_torch.fill_missing(values, missing, torch.zeros(20, dtype=torch.bool), start, end)
    assert filled[8:10, 0, 0].tolist() == [7.0, 7.0] and filled[10:12, 0, 0].tolist() == [12.0, 12.0]


def test_detector_noise_has_the_numpy_statistics():
    """Over many frames: the same jitter-plus-drift size per joint, the same shares of missing and
    low-confidence joints and of swapped frames, and drift as smooth as numpy's."""
    frames = 6000
    t = np.arange(frames)[:, None, None]
    clean = 500 + 100 * np.sin(t / 40 + np.arange(17)[None, :, None] + np.arange(2)) + np.zeros((1, 17, 2))
    level = synthesis.NOISE_LEVELS["detector"]
    noisy_np, conf_np = synthesis.add_detector_noise(clean, 30.0, level, np.random.default_rng(1))
    view = torch.zeros(frames, dtype=torch.long)
    noisy_t, conf_t = synthesis_torch.add_detector_noise(
        torch.from_numpy(clean), level, 30.0, view, view.clone(), torch.full((frames,), frames),
        torch.Generator().manual_seed(1))
    noisy_t, conf_t = noisy_t.numpy(), conf_t.numpy()
    for name, a, b in (("missing", conf_np == 0, conf_t == 0), ("low", conf_np < 0.5, conf_t < 0.5)):
        assert abs(a.mean() - b.mean()) < 0.25 * a.mean() + 0.002, name
    unswapped_np = np.abs(noisy_np - clean).max(axis=(1, 2)) < 60
    unswapped_t = np.abs(noisy_t - clean).max(axis=(1, 2)) < 60
    kept_np, kept_t = unswapped_np & (conf_np > 0).all(1), unswapped_t & (conf_t > 0).all(1)
    error_np = (noisy_np - clean)[kept_np].std(axis=0)
    error_t = (noisy_t - clean)[kept_t].std(axis=0)
    np.testing.assert_allclose(error_t, error_np, rtol=0.25)
    drift_np = np.diff(noisy_np[kept_np], axis=0).std()
    drift_t = np.diff(noisy_t[kept_t], axis=0).std()
    assert abs(drift_t - drift_np) < 0.15 * drift_np
    assert abs(unswapped_np.mean() - unswapped_t.mean()) < 0.02


def test_smooth_noise_is_unit_and_smooth():
    noise = synthesis_torch.smooth_noise((20000, 3), 15.0, torch.Generator().manual_seed(0), torch.device("cpu"))
    reference = synthesis.smooth_noise(np.random.default_rng(0), (20000, 3), 30.0, 0.5)
    assert abs(noise.std().item() - 1) < 0.1
    lag = [np.corrcoef(x[:-5].ravel(), x[5:].ravel())[0, 1] for x in (noise.numpy(), reference)]
    assert abs(lag[0] - lag[1]) < 0.03
