"""Camera conventions: screen-coordinate normalisation (VideoPose3D's), projection, world <-> camera."""

from __future__ import annotations

import numpy as np


def normalize_screen_coordinates(xy: np.ndarray, width: float, height: float) -> np.ndarray:
    """Pixels -> normalised screen coordinates: x/w*2-1, y/w*2-h/w (x in [-1, 1], aspect kept). (..., 2)."""
    xy = np.asarray(xy, dtype=np.float32)
    return xy / width * 2 - np.array([1.0, height / width], dtype=np.float32)


def image_coordinates(xy: np.ndarray, width: float, height: float) -> np.ndarray:
    """Normalised screen coordinates -> pixels; the inverse of normalize_screen_coordinates. (..., 2)."""
    xy = np.asarray(xy, dtype=np.float32)
    return (xy + np.array([1.0, height / width], dtype=np.float32)) * width / 2
