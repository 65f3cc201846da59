"""Unit vectors and orthonormal frames built from an aim direction and a reference direction."""

from __future__ import annotations

import numpy as np

from poselift.geometry.quaternions import cross


def unit(v: np.ndarray) -> np.ndarray:
    """Vectors (..., 3) scaled to unit length (a zero vector stays near zero instead of dividing by zero)."""
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def orthonormal_frames(aim: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Orthonormal frames (..., 3, 3) with columns [aim, ref made perpendicular to aim, aim x ref]."""
    a = unit(aim)
    r = unit(ref - np.sum(ref * a, axis=-1, keepdims=True) * a)
    return np.stack([a, r, cross(a, r)], axis=-1)
