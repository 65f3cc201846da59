"""Time resampling: video timestamps (any, even variable, frame rate) <-> the model's fixed frame rate."""

from __future__ import annotations

import numpy as np


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


def resample(values: np.ndarray, times: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 0: values (T, ...) sampled at times (T,) -> (T2, ...) at new_times.

    Outside the span the edge values are held.
    """
    values = np.asarray(values, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    new_times = np.asarray(new_times, dtype=np.float64)
    if values.shape[0] != times.shape[0]:
        raise ValueError(f"values have {values.shape[0]} frames but times {times.shape[0]}")
    if values.shape[0] == 1:
        return np.repeat(values, new_times.shape[0], axis=0)
    flat = values.reshape(values.shape[0], -1)
    index = np.clip(np.searchsorted(times, new_times, side="right") - 1, 0, times.size - 2)
    span = times[index + 1] - times[index]
    weight = np.clip((new_times - times[index]) / np.where(span > 0, span, 1.0), 0.0, 1.0)[:, None]
    out = flat[index] * (1 - weight) + flat[index + 1] * weight
    return out.reshape((new_times.shape[0],) + values.shape[1:])


def resample_mask(mask: np.ndarray, times: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """A bool mask (T, ...) at new_times: True only where both neighbouring samples are True."""
    as_float = resample(np.asarray(mask, dtype=np.float64), times, new_times)
    return as_float > 1 - 1e-9
