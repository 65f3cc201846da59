"""Time resampling: video timestamps (any, even variable, frame rate) <-> the model's fixed frame rate.

The interpolation itself is `poselift.geometry.resample.resample` (imported here for the pipeline).
"""

from __future__ import annotations

import numpy as np

from poselift.geometry.resample import resample

__all__ = ["is_uniform", "resample", "resample_mask", "uniform_times"]


def uniform_times(times: np.ndarray, fps: float) -> np.ndarray:
    """A regular grid at `fps` covering the span of `times` (T,) seconds: (T2,) seconds."""
    times = np.asarray(times, dtype=np.float64)
    if times.size == 0:
        return times.copy()
    count = int(np.floor((times[-1] - times[0]) * fps + 1e-6)) + 1
    return times[0] + np.arange(count) / fps


def is_uniform(times: np.ndarray, fps: float, tolerance: float = 0.05) -> bool:
    """True when `times` (T,) seconds already lie on a grid at `fps` (within tolerance x one frame)."""
    times = np.asarray(times, dtype=np.float64)
    if times.size < 2:
        return True
    expected = times[0] + np.arange(times.size) / fps
    return bool(np.abs(times - expected).max() <= tolerance / fps)


def resample_mask(mask: np.ndarray, times: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """A bool mask (T, ...) at new_times: True only where both neighbouring samples are True."""
    as_float = resample(np.asarray(mask, dtype=np.float64), times, new_times)
    return as_float > 1 - 1e-9
