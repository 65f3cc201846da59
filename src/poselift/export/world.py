"""From lifted camera-frame poses to a Y-up world with the floor at y = 0.

Camera frame (poselift's 3D output): x right, y down, z forward (away from the camera), metres. World frame
(animation, BVH, viewer): right-handed, Y up, metres; a person facing the camera faces +Z. The conversion
is a 180-degree turn about x: (x, y, z) -> (x, -y, -z). It assumes a roughly level camera; poses already
in a levelled world (`poses_world` from `poselift.video.trajectory`) skip it.
"""

from __future__ import annotations

import numpy as np

from poselift.errors import InputError

CAMERA_TO_WORLD = np.diag([1.0, -1.0, -1.0])
"""Camera frame (y down, z forward) -> Y-up world facing the camera: a 180-degree turn about x."""

FLOOR_PERCENTILE = 10.0
"""Percentile over frames of the lower ankle's height taken as 'standing on the floor' (robust to noise
and to a few frames of jumps)."""


def camera_to_world(points: np.ndarray) -> np.ndarray:
    """Points (..., 3) in the camera frame -> the Y-up world frame (same units)."""
    return np.asarray(points, dtype=np.float64) @ CAMERA_TO_WORLD.T


def to_world(
    poses: np.ndarray, frame: str = "camera", trajectory: np.ndarray | None = None
) -> np.ndarray:
    """Poses (T, 17, 3) metres -> Y-up world (T, 17, 3): add the root trajectory (T, 3) (same frame as the
    poses) when given, then turn camera-frame poses into the world frame; frame is "camera" or "world"."""
    poses = np.asarray(poses, dtype=np.float64)
    if frame not in ("camera", "world"):
        raise InputError(None, f"frame must be 'camera' or 'world', found {frame!r}")
    if trajectory is not None:
        trajectory = np.asarray(trajectory, dtype=np.float64)
        if trajectory.shape != (poses.shape[0], 3):
            raise InputError(None, f"trajectory must have shape ({poses.shape[0]}, 3), found {trajectory.shape}")
        poses = poses - poses[:, :1] + trajectory[:, None]
    return camera_to_world(poses) if frame == "camera" else poses


def floor_height(joints_world: np.ndarray, ankle_height: float) -> float:
    """Height of the floor (metres) under Y-up joints (T, 17, 3): the robust lowest ankle minus the ankle's
    height above the sole."""
    lower_ankle = np.min(joints_world[:, [3, 6], 1], axis=1)
    return float(np.percentile(lower_ankle, FLOOR_PERCENTILE) - ankle_height)


def on_floor(joints_world: np.ndarray, ankle_height: float) -> np.ndarray:
    """Joints (T, 17, 3) shifted vertically so the floor (see floor_height) is at y = 0."""
    shifted = np.array(joints_world, dtype=np.float64)
    shifted[..., 1] -= floor_height(shifted, ankle_height)
    return shifted
