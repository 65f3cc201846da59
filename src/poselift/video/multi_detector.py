"""Several people per frame with the models already inside the MediaPipe wheel (no download, no new package).

BlazePose as packaged (`solutions.pose`) follows ONE person. The same wheel carries BlazePose's two
networks, the person detector `modules/pose_detection/pose_detection.tflite` and the landmark network
`modules/pose_landmark/pose_landmark_full.tflite`, and MediaPipe's Tasks API (`PoseLandmarker`) runs that
detector -> crop -> landmarks pipeline for up to `num_poses` people. Tasks wants a `.task` bundle whose
models carry input normalisation metadata; the wheel's files have none. So we write that metadata with
MediaPipe's own `metadata_writers` (detector input in [-1, 1], landmark input in [0, 1], the ranges the two
networks were trained with), zip the two into a bundle in memory, and run the landmarker in IMAGE mode:
the person detector runs on every frame, so a person walking in is found at once (the Tasks VIDEO mode
only looks for new people when it has lost everyone). Identity over time is left to `video/tracking.py`.
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
from functools import lru_cache

import numpy as np

from poselift.errors import InputError
from poselift.video.detector import INSTALL_HINT, detector_available
from poselift.video.keypoint_files import Detection
from poselift.video.layouts import MEDIAPIPE33, Layout

DETECTOR_FILE = "modules/pose_detection/pose_detection.tflite"
LANDMARK_FILE = "modules/pose_landmark/pose_landmark_full.tflite"
MAX_PEOPLE = 4
"""People looked for in each frame."""
MIN_DETECTION_SCORE = 0.2
"""Person-detector score needed to start a person. MediaPipe's default, 0.5, misses people side by side: on
the walking gif (two people in every frame) 0.2 finds both in 32 of 35 frames, 0.5 in 13."""


def _with_normalisation(path: str, mean: float, std: float, outputs: int) -> bytes:
    """The model at `path` with image-input metadata (value = (pixel - mean) / std) that Tasks requires."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(open(path, "rb").read()))
    writer.add_general_info("poselift", "BlazePose model from the MediaPipe wheel with input normalisation")
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    for _ in range(outputs):
        writer.add_feature_output()
    model, _ = writer.populate()
    return bytes(model)


@lru_cache(maxsize=1)
def model_bundle() -> bytes:
    """The PoseLandmarker `.task` bundle (zip bytes) built from the two models inside the MediaPipe wheel."""
    import mediapipe

    root = os.path.dirname(mediapipe.__file__)
    detector, landmarks = os.path.join(root, DETECTOR_FILE), os.path.join(root, LANDMARK_FILE)
    for path in (detector, landmarks):
        if not os.path.exists(path):
            raise InputError(path, "missing from the MediaPipe wheel: " + INSTALL_HINT)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("pose_detector.tflite", _with_normalisation(detector, 127.5, 127.5, outputs=2))
        bundle.writestr("pose_landmarks_detector.tflite", _with_normalisation(landmarks, 0.0, 255.0, outputs=5))
    return buffer.getvalue()


class MultiPoseDetector:
    """Up to `max_people` BlazePose people per RGB frame; call `detect(image)` -> list of Detection."""

    layout: Layout = MEDIAPIPE33

    def __init__(self, max_people: int = MAX_PEOPLE, min_detection_score: float = MIN_DETECTION_SCORE,
                 min_presence: float = 0.5):
        if not detector_available():
            raise InputError(None, f"no 2D detector: {INSTALL_HINT}")
        with contextlib.redirect_stderr(io.StringIO()):
            from mediapipe.tasks.python import BaseOptions, vision

            options = vision.PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_buffer=model_bundle()),
                running_mode=vision.RunningMode.IMAGE, num_poses=max_people,
                min_pose_detection_confidence=min_detection_score, min_pose_presence_confidence=min_presence,
            )
            self._landmarker = vision.PoseLandmarker.create_from_options(options)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """One RGB frame (H, W, 3) uint8 -> every person found: 33 landmarks in pixels with visibility as
        scores, MediaPipe's 3D landmarks in `world`, the mean visibility in `score`."""
        import mediapipe as mp

        height, width = image.shape[:2]
        frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        result = self._landmarker.detect(frame)
        people = []
        for k, landmarks in enumerate(result.pose_landmarks):
            xy = np.array([[lm.x * width, lm.y * height] for lm in landmarks], dtype=np.float64)
            scores = np.clip(np.array([lm.visibility or 0.0 for lm in landmarks], dtype=np.float64), 0.0, 1.0)
            world = None
            if k < len(result.pose_world_landmarks):
                world = np.array([[lm.x, lm.y, lm.z] for lm in result.pose_world_landmarks[k]], dtype=np.float64)
            people.append(Detection(keypoints=xy, scores=scores, score=float(scores.mean()), world=world))
        return people

    def close(self) -> None:
        """Release the MediaPipe graph."""
        self._landmarker.close()

    def __enter__(self) -> MultiPoseDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
