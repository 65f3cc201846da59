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

The person detector sees the whole frame letterboxed into 224 x 224 pixels: in a 16:9 frame a person
standing at half the picture's height is 30 pixels tall there, and it misses one of two people side by side
in a quarter of the frames. So a landscape frame is also looked at through square windows (side = the
frame's height) spread along its width; the people found in the frame and in the windows are merged
(`merge_people`): a window's landmarks beyond the window's inner edges are guesses and get no confidence,
and of several finds of one person the one that saw most of the body is kept; a small skeleton drawn inside
a bigger person's box is dropped.
"""

from __future__ import annotations

import contextlib
import io
import os
import zipfile
from collections.abc import Sequence
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
WINDOW_ASPECT = 1.25
"""A frame at least this much wider than tall is also searched through square windows (see the module doc)."""
SAME_PERSON = 0.15
"""Two finds whose landmarks lie this close (median, in body sizes) are one person."""
PART_SIZE = 0.6
"""A find smaller than this fraction of another person (box diagonal) and lying inside their box is a part of
them (the landmark network sometimes draws a small skeleton inside a person's legs), not a person."""
EDGE_MARGIN = 0.01
"""Landmarks within this fraction of a window's side from its inner edge, or beyond, were not seen in it."""


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
                 min_presence: float = 0.5, windows: bool = True):
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
        self.max_people = max_people
        self.windows = windows

    def detect(self, image: np.ndarray) -> list[Detection]:
        """One RGB frame (H, W, 3) uint8 -> every person found: 33 landmarks in pixels with visibility as
        scores, MediaPipe's 3D landmarks in `world`, the mean visibility in `score`."""
        height, width = image.shape[:2]
        found = [self._detect_window(image, (0, 0, width, height), (width, height))]
        if self.windows:
            for box in search_windows(width, height):
                found.append(self._detect_window(image, box, (width, height)))
        return merge_people(found, self.max_people)

    def _detect_window(self, image: np.ndarray, box: tuple[int, int, int, int],
                       size: tuple[int, int]) -> list[Detection]:
        """The people found in one window (x0, y0, x1, y1) of the frame, in the frame's pixels; landmarks
        past an inner edge of the window (one that is not the frame's border) get confidence 0."""
        import mediapipe as mp

        x0, y0, x1, y1 = box
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        result = self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop))
        people = []
        for k, landmarks in enumerate(result.pose_landmarks):
            xy = np.array([[lm.x * (x1 - x0) + x0, lm.y * (y1 - y0) + y0] for lm in landmarks], dtype=np.float64)
            scores = np.clip(np.array([lm.visibility or 0.0 for lm in landmarks], dtype=np.float64), 0.0, 1.0)
            scores[~inside_window(xy, box, size)] = 0.0
            world = None
            if k < len(result.pose_world_landmarks):
                world = np.array([[lm.x, lm.y, lm.z] for lm in result.pose_world_landmarks[k]], dtype=np.float64)
            people.append(Detection(keypoints=xy, scores=scores, score=float(scores.mean()), world=world,
                                    bbox=np.array(box, dtype=np.float64)))
        return people

    def close(self) -> None:
        """Release the MediaPipe graph."""
        self._landmarker.close()

    def __enter__(self) -> MultiPoseDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def search_windows(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Square windows (x0, y0, x1, y1), side = the frame's height, evenly spread to cover a landscape frame at
    least WINDOW_ASPECT times wider than tall (16:9: two); none for other frames (a standing person fills
    more of a portrait frame's letterbox, and square windows would cut them in half)."""
    if width < WINDOW_ASPECT * height:
        return []
    count = int(np.ceil(width / height))
    return [(int(round(k * (width - height) / (count - 1))), 0, int(round(k * (width - height) / (count - 1))) + height,
             height) for k in range(count)]


def inside_window(xy: np.ndarray, box: Sequence[int], size: tuple[int, int]) -> np.ndarray:
    """(N,) bool: points (N, 2) pixels that lie inside the window `box` (x0, y0, x1, y1), away from its inner
    edges by EDGE_MARGIN x its side; a window edge on the frame's border does not count (the detector sees
    past the border as it does on the whole frame)."""
    x0, y0, x1, y1 = box
    width, height = size
    mx, my = EDGE_MARGIN * (x1 - x0), EDGE_MARGIN * (y1 - y0)
    ok = np.ones(len(xy), dtype=bool)
    if x0 > 0:
        ok &= xy[:, 0] >= x0 + mx
    if x1 < width:
        ok &= xy[:, 0] <= x1 - mx
    if y0 > 0:
        ok &= xy[:, 1] >= y0 + my
    if y1 < height:
        ok &= xy[:, 1] <= y1 - my
    return ok


def merge_people(found: list[list[Detection]], max_people: int = MAX_PEOPLE) -> list[Detection]:
    """One detection per person from the finds of several windows: the finds with most confidence (sum of
    landmark scores: the most of the body seen) first, each later find dropped when its landmarks lie within
    SAME_PERSON body sizes (median) of a kept one; then parts of people (`drop_parts`) go; at most
    `max_people`, the window box removed."""
    candidates = sorted((d for window in found for d in window), key=lambda d: -float(d.scores.sum()))
    kept: list[Detection] = []
    for det in candidates:
        if len(kept) < max_people and all(_distance(det, other) >= SAME_PERSON for other in kept):
            kept.append(det)
    kept = drop_parts(kept)
    for det in kept:
        det.bbox = None
    return kept


def drop_parts(people: list[Detection]) -> list[Detection]:
    """The finds that are not a small skeleton inside another: a find goes when its landmarks' box is smaller
    than PART_SIZE x another find's (diagonal) and lies at least 80 % inside that find's box."""
    boxes = [np.concatenate([d.keypoints.min(0), d.keypoints.max(0)]) for d in people]
    sizes = [float(np.hypot(*(b[2:] - b[:2]))) for b in boxes]
    out = []
    for k, (box, size) in enumerate(zip(boxes, sizes, strict=True)):
        area = max(float(np.prod(box[2:] - box[:2])), 1e-9)
        inside = [float(np.prod(np.clip(np.minimum(box[2:], other[2:]) - np.maximum(box[:2], other[:2]), 0, None)))
                  / area for other in boxes]
        if not any(j != k and size < PART_SIZE * sizes[j] and inside[j] >= 0.8 for j in range(len(people))):
            out.append(people[k])
    return out


def _distance(a: Detection, b: Detection) -> float:
    """Median landmark distance between two finds, in units of the larger one's size (box diagonal)."""
    size = max(float(np.linalg.norm(np.ptp(p, axis=0))) for p in (a.keypoints, b.keypoints))
    return float(np.median(np.linalg.norm(a.keypoints - b.keypoints, axis=-1)) / max(size, 1.0))
