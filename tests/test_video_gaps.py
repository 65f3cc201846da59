"""Gap filling, flagging of unseen joints, and time resampling."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.video.gaps import clean_track
from poselift.video.resample import is_uniform, resample, resample_mask, uniform_times

# A standing figure (H36M order) in pixels: pelvis at (100, 150), torso 50 px, legs to y = 240.
STANDING = np.array([
    [100, 150], [88, 150], [88, 195], [88, 240], [112, 150], [112, 195], [112, 240], [100, 125],
    [100, 100], [100, 88], [100, 76], [116, 100], [118, 128], [119, 155], [84, 100], [82, 128], [81, 155],
], dtype=float)


def _walk(frames: int) -> np.ndarray:
    return STANDING + np.arange(frames)[:, None, None] * np.array([3.0, 0.5])


def test_short_gaps_are_interpolated_exactly_for_linear_motion():
    keypoints = _walk(20)
    confidence = np.ones((20, 17))
    present = np.ones(20, dtype=bool)
    present[5:9] = False  # the person vanished for 4 frames
    confidence[12:14, 13] = 0.1  # a wrist with low confidence
    holes = keypoints.copy()
    holes[5:9] = 0
    holes[12:14, 13] = -50
    clean = clean_track(holes, confidence, present, max_gap=5)
    np.testing.assert_allclose(clean.keypoints, keypoints, atol=1e-9)
    assert clean.valid.all() and not clean.flagged.any()
    assert clean.interpolated[5:9].all() and clean.interpolated[12:14, 13].all()
    assert clean.interpolated.sum() == 4 * 17 + 2


def test_cubic_follows_curved_motion_better_than_linear():
    t = np.arange(40)
    keypoints = STANDING + (40 * np.sin(t / 6.0))[:, None, None] * np.array([1.0, 0.0])
    present = np.ones(40, dtype=bool)
    present[18:24] = False
    errors = {}
    for method in ("linear", "cubic"):
        clean = clean_track(keypoints, np.ones((40, 17)), present, max_gap=8, method=method)
        errors[method] = np.abs(clean.keypoints[18:24] - keypoints[18:24]).max()
    assert errors["cubic"] < 0.5 * errors["linear"]


def test_long_gaps_and_ends_are_invalid_with_zero_confidence():
    keypoints = _walk(30)
    present = np.ones(30, dtype=bool)
    present[:3] = False
    present[10:25] = False
    clean = clean_track(keypoints, np.ones((30, 17)), present, max_gap=5)
    assert not clean.valid[:3].any() and not clean.valid[10:25].any() and clean.valid[3:10].all()
    assert (clean.confidence[~clean.valid] == 0).all()
    np.testing.assert_allclose(clean.keypoints[0], keypoints[3])  # held from the nearest valid frame
    np.testing.assert_allclose(clean.keypoints[12], keypoints[9])
    np.testing.assert_allclose(clean.keypoints[24], keypoints[25])
    assert np.isfinite(clean.keypoints).all()


def test_legs_out_of_the_picture_are_flagged_and_synthesised_below_the_hips():
    keypoints = np.repeat(STANDING[None], 10, axis=0)
    keypoints[:, [2, 3, 5, 6], 1] += 100  # knees and ankles below the bottom of a 200 px high image
    clean = clean_track(keypoints, np.ones((10, 17)), np.ones(10, dtype=bool), image_size=(200, 200))
    legs = [2, 3, 5, 6]
    assert clean.flagged[:, legs].all() and not np.delete(clean.flagged, legs, axis=1).any()
    assert (clean.confidence[:, legs] == 0).all() and (np.delete(clean.confidence, legs, axis=1) == 1).all()
    assert clean.valid.all()
    synthesised = clean.keypoints[0]
    assert synthesised[3, 1] > synthesised[2, 1] > synthesised[1, 1]  # ankle below knee below hip
    np.testing.assert_allclose(synthesised[2, 0], STANDING[1, 0], atol=1e-6)  # straight down from the hip
    np.testing.assert_allclose(synthesised[2, 1] - synthesised[1, 1], 0.91 * 50, rtol=1e-6)


def test_nobody_is_an_error():
    with pytest.raises(ValueError, match="no frame"):
        clean_track(np.zeros((5, 17, 2)), np.zeros((5, 17)), np.ones(5, dtype=bool))
    with pytest.raises(ValueError, match="method"):
        clean_track(np.zeros((5, 17, 2)), np.ones((5, 17)), np.ones(5, dtype=bool), method="spline")


def test_resampling_between_video_times_and_a_model_grid():
    times = np.array([0.0, 0.05, 0.1, 0.3, 0.4])  # variable frame rate
    grid = uniform_times(times, 20)
    np.testing.assert_allclose(grid, np.arange(9) * 0.05)
    values = np.stack([2 * times + 1, -times], axis=-1)
    np.testing.assert_allclose(resample(values, times, grid), np.stack([2 * grid + 1, -grid], -1), atol=1e-12)
    back = resample(resample(values, times, grid), grid, times)
    np.testing.assert_allclose(back, values, atol=1e-12)
    assert is_uniform(np.arange(10) / 30, 30) and not is_uniform(np.arange(10) / 25, 30)
    mask = resample_mask(np.array([True, True, False, True, True]), times, grid)
    assert mask.tolist() == [True, True, False, False, False, False, True, True, True]
