"""HumanEva-I in the community (VideoPose3D) layout: 15 joints, subjects S1-S3, cameras C1-C3, 60 fps.

Files: `data_3d_humaneva15.npz` with `positions_3d['Train/S1']['Walking 1 chunk0']` (T, 15, 3) world metres
and `data_2d_humaneva15_<source>.npz` with `positions_2d[subject][action]` = [C1, C2, C3] arrays (T, 15, 2)
pixels (None for a missing view). Subjects carry a `Train/` or `Validate/` prefix (VideoPose3D's split
of each take into a training and a validation part; `Unlabeled/` entries have no 3D); mocap dropouts
split a take into contiguous `chunkN` parts. Joint order: poselift.skeleton.HUMANEVA15.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poselift.data.h36m import build_sequences, load_positions_2d, load_positions_3d
from poselift.data.sequences import PoseSequence
from poselift.errors import InputError
from poselift.skeleton import HUMANEVA15

FPS = 60.0
WIDTH, HEIGHT = 640, 480
CAMERA_IDS: tuple[str, ...] = ("C1", "C2", "C3")
TRAIN_SUBJECTS: tuple[str, ...] = ("Train/S1", "Train/S2", "Train/S3")
TEST_SUBJECTS: tuple[str, ...] = ("Validate/S1", "Validate/S2", "Validate/S3")
TEST_ACTIONS: tuple[str, ...] = ("Walk", "Jog", "Box")
"""The usual evaluation: the validation parts of Walking, Jog and Box (action-name prefixes)."""

HUMANEVA15_METADATA: dict[str, Any] = {
    "layout_name": "humaneva15",
    "num_joints": 15,
    "keypoints_symmetry": [list(HUMANEVA15.left), list(HUMANEVA15.right)],
}

# Extrinsics per subject and camera, as listed by VideoPose3D (common/humaneva_dataset.py): a unit
# quaternion (w, x, y, z) rotating camera coordinates into world coordinates, and the camera centre in
# world millimetres. HumanEva's intrinsics are not needed: its 2D keypoints come with the files.
_EXTRINSICS: dict[str, tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]] = {
    "S1": (
        ((0.424207, -0.4983646, -0.5802981, 0.4847012), (4062.227, 663.2477, 1528.397)),
        ((0.6503354, -0.7481602, -0.0919284, 0.0941766), (844.8131, -3805.2092, 1504.9929)),
        ((0.0664734, -0.0690535, 0.7416416, -0.6639132), (-797.67377, 3916.3174, 1433.6602)),
    ),
    "S2": (
        ((0.4214752, -0.4961493, -0.5838273, 0.4851187), (4112.9121, 626.4929, 1545.2988)),
        ((0.6501393, -0.7476588, -0.0954617, 0.0959808), (923.5740, -3877.9243, 1504.5518)),
        ((0.0699353, -0.0712403, 0.7421637, -0.662742), (-781.4915, 3838.8853, 1444.9929)),
    ),
    "S3": (
        ((0.424207, -0.4983646, -0.5802981, 0.4847012), (4062.2271, 663.2477, 1528.3970)),
        ((0.6503354, -0.7481602, -0.0919284, 0.0941766), (844.8131, -3805.2092, 1504.9929)),
        ((0.0664734, -0.0690535, 0.7416416, -0.6639132), (-797.6738, 3916.3174, 1433.6602)),
    ),
}


def base_subject(subject: str) -> str:
    """'Validate/S2' -> 'S2' (the actor, who owns the camera calibration)."""
    return subject.rsplit("/", 1)[-1]


def humaneva_cameras() -> dict[str, list[Any]]:
    """Cameras C1-C3 of subjects S1-S3 (extrinsics only; 640x480), keyed by actor name."""
    from poselift.camera import camera_from_quaternion

    return {
        subject: [
            camera_from_quaternion(
                orientation=np.array(q), translation=np.array(t) / 1000.0, width=WIDTH, height=HEIGHT, name=cam_id
            )
            for cam_id, (q, t) in zip(CAMERA_IDS, views, strict=True)
        ]
        for subject, views in _EXTRINSICS.items()
    }


def load_humaneva_sequences(
    data_3d: str | Path,
    data_2d: str | Path,
    subjects: Sequence[str] | None = TEST_SUBJECTS,
    actions: Sequence[str] | None = TEST_ACTIONS,
    cameras: Mapping[str, Sequence[Any]] | None = None,
) -> list[PoseSequence]:
    """HumanEva-I sequences from the community files: 15 joints, camera-frame metres, 60 fps.

    Defaults to the usual test set (Validate/S1-S3; Walk, Jog, Box). `cameras` is keyed by actor (S1-S3).
    """
    data_3d, data_2d = Path(data_3d), Path(data_2d)
    positions_3d = load_positions_3d(data_3d, joints=(15,))
    positions_2d, metadata = load_positions_2d(data_2d, num_joints=15)
    layout = metadata.get("layout_name")
    if layout is not None and layout != "humaneva15":
        raise InputError(data_2d, f"keypoints are in the {layout!r} layout; HumanEva 15-joint expected")
    by_actor = dict(cameras) if cameras is not None else humaneva_cameras()
    keyed = {s: by_actor[base_subject(s)] for s in positions_3d if base_subject(s) in by_actor}
    return build_sequences(
        positions_3d,
        positions_2d,
        keyed,
        subjects,
        actions,
        fps=FPS,
        joints_3d=None,
        path_3d=data_3d,
        path_2d=data_2d,
        missing_ok=frozenset(),
    )
