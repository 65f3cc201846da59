"""Training sequences: one camera's view of one motion, as 2D keypoints paired with camera-frame 3D poses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poselift.errors import InputError


@dataclass
class PoseSequence:
    """A 2D/3D training pair for one camera view of one motion clip.

    keypoints_2d: (T, J, 2) float32 normalised screen coordinates
    (poselift.camera.normalize_screen_coordinates).
    poses_3d: (T, J, 3) float32 camera-frame metres (x right, y down, z forward), absolute (not
    root-relative).
    confidence: (T, J) float32 in [0, 1] per keypoint, or None (all keypoints fully trusted).
    camera_params: optional dict with "focal" (fx, fy) pixels, "centre" (cx, cy) pixels, "width", "height",
    and, when known, "R" (3, 3) world->camera and "t" (3,) metres.
    """

    keypoints_2d: np.ndarray
    poses_3d: np.ndarray
    confidence: np.ndarray | None = None
    fps: float = 50.0
    subject: str = ""
    action: str = ""
    camera: str = ""
    camera_params: dict[str, Any] | None = field(default=None)

    @property
    def num_frames(self) -> int:
        """The number of frames T."""
        return int(self.keypoints_2d.shape[0])

    @property
    def num_joints(self) -> int:
        """The number of joints J."""
        return int(self.keypoints_2d.shape[1])

    def validate(self) -> PoseSequence:
        """Check shapes, agreement of the arrays and finite poses_3d; raise InputError. Returns self."""
        name = f"sequence {self.subject}/{self.action}/{self.camera}"
        kp = np.asarray(self.keypoints_2d)
        p3 = np.asarray(self.poses_3d)
        if kp.ndim != 3 or kp.shape[2] != 2:
            raise InputError(None, f"{name}: keypoints_2d must be (T, J, 2), found {kp.shape}")
        if p3.ndim != 3 or p3.shape[2] != 3:
            raise InputError(None, f"{name}: poses_3d must be (T, J, 3), found {p3.shape}")
        if p3.shape[:2] != kp.shape[:2]:
            raise InputError(
                None, f"{name}: keypoints_2d {kp.shape[:2]} and poses_3d {p3.shape[:2]} differ in (T, J)"
            )
        if not np.isfinite(p3).all():
            raise InputError(None, f"{name}: poses_3d contains NaN or infinite values")
        if not np.isfinite(kp).all():
            raise InputError(None, f"{name}: keypoints_2d contains NaN or infinite values")
        if self.confidence is not None:
            conf = np.asarray(self.confidence)
            if conf.shape != kp.shape[:2]:
                expected = kp.shape[:2]
                raise InputError(None, f"{name}: confidence must be (T, J) = {expected}, found {conf.shape}")
        if not self.fps > 0:
            raise InputError(None, f"{name}: fps must be positive, found {self.fps}")
        return self
