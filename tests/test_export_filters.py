"""The One-Euro filter: less jitter on a still signal, little lag on a moving one."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.export.filters import OneEuroFilter, filter_sequence, smoothing_factor
from poselift.geometry import quaternions as quat


def test_first_frame_passes_and_still_noise_is_reduced(rng):
    truth = rng.normal(size=(17, 3))
    noisy = truth + rng.normal(scale=0.01, size=(300, 17, 3))
    out = filter_sequence(noisy, fps=30, min_cutoff=1.0, beta=0.0)
    np.testing.assert_allclose(out[0], noisy[0])
    raw_error = np.sqrt(np.mean((noisy[100:] - truth) ** 2))
    filtered_error = np.sqrt(np.mean((out[100:] - truth) ** 2))
    assert filtered_error < raw_error / 2


def test_beta_cuts_the_lag_on_fast_motion():
    t = np.arange(120) / 30.0
    ramp = np.zeros((120, 1, 3))
    ramp[:, 0, 0] = 2.0 * t  # 2 m/s
    slow = filter_sequence(ramp, fps=30, min_cutoff=0.5, beta=0.0)
    fast = filter_sequence(ramp, fps=30, min_cutoff=0.5, beta=5.0)
    lag_slow = np.abs(slow[60:] - ramp[60:]).max()
    lag_fast = np.abs(fast[60:] - ramp[60:]).max()
    assert lag_fast < lag_slow / 3


def test_per_point_speed_does_not_depend_on_the_axes(rng):
    signal = np.cumsum(rng.normal(scale=0.02, size=(100, 17, 3)), axis=0)
    turn = quat.from_axis_angle(np.array([0.3, 1.0, 0.2]), 1.1)
    turned = quat.rotate(turn, signal)
    a = filter_sequence(signal, fps=30, beta=2.0)
    b = filter_sequence(turned, fps=30, beta=2.0)
    np.testing.assert_allclose(quat.rotate(turn, a), b, atol=1e-9)


def test_timestamps_and_reset():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    f(np.zeros(3), 0.0)
    half = f(np.ones(3), 1.0)  # a long step: the output moves most of the way
    np.testing.assert_allclose(half, smoothing_factor(1.0, 1.0) * np.ones(3))
    f.reset()
    np.testing.assert_allclose(f(np.full(3, 7.0), 5.0), 7.0)
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0)
