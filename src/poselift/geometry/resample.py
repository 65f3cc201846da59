"""Linear resampling in time: values at any timestamps -> other timestamps, or one frame rate -> another."""

from __future__ import annotations

import math

import numpy as np


def _blend(values: np.ndarray, lower: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """values[lower] and values[lower + 1] mixed by weight (broadcast against them): (1 - w) a + w b."""
    return values[lower] * (1 - weight) + values[lower + 1] * weight


def resample(values: np.ndarray, times: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 0: values (T, ...) sampled at times (T,) -> (T2, ...) at new_times.

    Outside the span the edge values are held. Computed in float64.
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
    return _blend(flat, index, weight).reshape((new_times.shape[0],) + values.shape[1:])


def resample_rate(values: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linear interpolation in time: (T, ...) at fps_in -> (T', ...) at fps_out, T' = floor((T-1) r) + 1.

    Starts at the first frame; keeps the dtype of `values`; a copy when the rates are equal.
    """
    values = np.asarray(values)
    if fps_in <= 0 or fps_out <= 0:
        raise ValueError(f"frame rates must be positive, got {fps_in} and {fps_out}")
    num_frames = values.shape[0]
    if num_frames < 2 or abs(fps_in - fps_out) < 1e-9:
        return values.copy()
    ratio = fps_in / fps_out
    count = int(math.floor((num_frames - 1) / ratio + 1e-9)) + 1
    times = np.arange(count) * ratio  # in input frames
    lower = np.minimum(np.floor(times).astype(np.int64), num_frames - 2)
    weight = (times - lower).reshape((-1,) + (1,) * (values.ndim - 1)).astype(values.dtype)
    return _blend(values, lower, weight)
