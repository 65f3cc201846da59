"""Human3.6M in the community (VideoPose3D) layout: 3D poses, 2D keypoint files, cameras, splits, quirks.

Files (see docs/datasets.md):
- `data_3d_h36m.npz`: `positions_3d[subject][action]` (T, 32, 3) world metres (Z up), a pickled dict.
- `data_2d_h36m_<source>.npz`: `positions_2d[subject][action]` a list of 4 camera arrays (T, 17, 2) pixels,
  `metadata` with `num_joints`, `keypoints_symmetry` and (detections) `layout_name`.
Both are read with a restricted unpickler (poselift.data.restricted_pickle), never with allow_pickle.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poselift.camera import Camera, normalize_screen_coordinates, project, world_to_camera
from poselift.data.restricted_pickle import load_npz
from poselift.data.sequences import PoseSequence
from poselift.errors import InputError
from poselift.skeleton import H36M17

FPS = 50.0
"""Human3.6M's mocap and video frame rate."""

TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
SUBJECTS: tuple[str, ...] = TRAIN_SUBJECTS + TEST_SUBJECTS

CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
"""The four cameras in the order of every per-camera list in the community files."""

H36M32_TO_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Indices of the 17 moving joints among the 32 of the original release, in poselift.skeleton.H36M17 order."""

H36M17_METADATA: dict[str, Any] = {
    "layout_name": "h36m",
    "num_joints": 17,
    "keypoints_symmetry": [list(H36M17.left), list(H36M17.right)],
}
"""`metadata` of a 2D file in the Human3.6M 17-joint layout, as VideoPose3D writes it."""

MISSING_SEQUENCES: frozenset[tuple[str, str]] = frozenset({("S11", "Directions")})
"""(subject, action) pairs known to be absent from community files: S11 'Directions' (a corrupt video of
camera 54138969) is dropped from VideoPose3D's 3D file and from the 2D detections."""

_CANONICAL_NAMES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}


def canonical_action_name(name: str) -> str:
    """An action name as VideoPose3D spells it: 'TakingPhoto 1' -> 'Photo 1', 'WalkingDog' -> 'WalkDog'."""
    for old, new in _CANONICAL_NAMES.items():
        name = name.replace(old, new)
    return name


def normalize_action_name(action: str) -> str:
    """The action a take belongs to, for per-action reports: 'Walking 1' -> 'Walking' (VideoPose3D's split)."""
    return action.split(" ")[0]


def reduce_to_17(positions: np.ndarray) -> np.ndarray:
    """(T, 32, 3) original-release joints -> (T, 17, 3) in H36M17 order; 17-joint input is returned as is."""
    if positions.shape[-2] == 17:
        return positions
    if positions.shape[-2] != 32:
        raise InputError(None, f"expected 32 or 17 joints, found {positions.shape[-2]}")
    return positions[..., list(H36M32_TO_17), :]


def natural_key(text: str) -> list[Any]:
    """Sort key that puts S9 before S11 and 'Walking 2' before 'Walking 10'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


# --- reading and writing the community files -----------------------------------------------------


def _as_nested_dict(value: Any, path: Path, key: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise InputError(path, f"{key!r} must be a dict of subjects, each a dict of actions")
    return value


def load_positions_3d(path: str | Path, joints: Sequence[int] = (32, 17)) -> dict[str, dict[str, np.ndarray]]:
    """Read `positions_3d` from a data_3d_*.npz: {subject: {action: (T, J, 3) float32 world metres}}."""
    path = Path(path)
    data = _as_nested_dict(load_npz(path, ["positions_3d"], required=["positions_3d"])["positions_3d"], path,
                           "positions_3d")
    out: dict[str, dict[str, np.ndarray]] = {}
    for subject, actions in data.items():
        out[str(subject)] = {}
        for action, positions in actions.items():
            name = f"{subject}/{action}"
            if not isinstance(positions, np.ndarray) or positions.ndim != 3 or positions.shape[-1] != 3:
                shape = getattr(positions, "shape", type(positions).__name__)
                raise InputError(path, f"{name}: expected an array (T, J, 3), found {shape}")
            if positions.shape[1] not in joints:
                expected = " or ".join(str(j) for j in joints)
                raise InputError(path, f"{name}: expected {expected} joints, found {positions.shape[1]}")
            if not np.issubdtype(positions.dtype, np.floating) or not np.isfinite(positions).all():
                raise InputError(path, f"{name}: positions must be finite floats")
            out[str(subject)][str(action)] = positions.astype(np.float32, copy=False)
    if not out:
        raise InputError(path, "'positions_3d' holds no subjects")
    return out


def load_positions_2d(
    path: str | Path, num_joints: int | None = 17
) -> tuple[dict[str, dict[str, list[np.ndarray | None]]], dict[str, Any]]:
    """Read a data_2d_*.npz: ({subject: {action: [per camera (T, J, 2|3) float32 pixels or None]}}, metadata).

    Checks the joint count against `num_joints` (when given) and the metadata's `num_joints`.
    """
    path = Path(path)
    loaded = load_npz(path, ["positions_2d", "metadata"], required=["positions_2d"])
    data = _as_nested_dict(loaded["positions_2d"], path, "positions_2d")
    metadata = loaded.get("metadata", {})
    if not isinstance(metadata, dict):
        raise InputError(path, "'metadata' must be a dict")
    declared = metadata.get("num_joints")
    out: dict[str, dict[str, list[np.ndarray | None]]] = {}
    for subject, actions in data.items():
        out[str(subject)] = {}
        for action, views in actions.items():
            name = f"{subject}/{action}"
            if isinstance(views, np.ndarray) and views.dtype != object:
                views = [views]
            if not isinstance(views, (list, tuple, np.ndarray)):
                raise InputError(path, f"{name}: expected a list of per-camera arrays, found {type(views).__name__}")
            cams: list[np.ndarray | None] = []
            for index, view in enumerate(views):
                if view is None or (isinstance(view, np.ndarray) and view.size == 0 and view.ndim < 3):
                    cams.append(None)
                    continue
                view = np.asarray(view)
                if view.ndim != 3 or view.shape[-1] not in (2, 3) or not np.issubdtype(view.dtype, np.number):
                    raise InputError(path, f"{name} camera {index}: expected (T, J, 2), found {view.shape}")
                if num_joints is not None and view.shape[1] != num_joints:
                    found = view.shape[1]
                    raise InputError(path, f"{name} camera {index}: expected {num_joints} joints, found {found}")
                if declared is not None and view.shape[1] != int(declared):
                    raise InputError(
                        path, f"{name} camera {index}: {view.shape[1]} joints, but the metadata says {int(declared)}"
                    )
                cams.append(view.astype(np.float32, copy=False))
            out[str(subject)][str(action)] = cams
    if not out:
        raise InputError(path, "'positions_2d' holds no subjects")
    return out, metadata


def save_positions_3d(path: str | Path, positions: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Write {subject: {action: (T, J, 3) metres}} as a community data_3d_*.npz, atomically."""
    from poselift.atomic import save_npz_atomic

    data = {s: {a: np.asarray(p, dtype=np.float32) for a, p in acts.items()} for s, acts in positions.items()}
    save_npz_atomic(path, positions_3d=data)


def save_positions_2d(
    path: str | Path,
    positions: Mapping[str, Mapping[str, Sequence[np.ndarray | None]]],
    metadata: Mapping[str, Any],
) -> None:
    """Write {subject: {action: [per camera (T, J, 2) pixels, or None]}} and metadata as a data_2d_*.npz."""
    from poselift.atomic import save_npz_atomic

    data = {
        s: {a: [None if v is None else np.asarray(v, dtype=np.float32) for v in views] for a, views in acts.items()}
        for s, acts in positions.items()
    }
    save_npz_atomic(path, positions_2d=data, metadata=dict(metadata))


# --- the original release's D3_Positions CDF files -----------------------------------------------


def read_d3_positions_cdf(path: str | Path) -> np.ndarray:
    """One `MyPoseFeatures/D3_Positions/<action>.cdf` file -> (T, 32, 3) float32 world metres (from mm)."""
    import cdflib

    path = Path(path)
    try:
        cdf = cdflib.CDF(str(path))
        pose = np.asarray(cdf.varget("Pose"))
    except Exception as error:  # noqa: BLE001 - cdflib raises many types for corrupt files
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(path, f"not a readable Human3.6M CDF file with a 'Pose' variable ({problem})") from None
    if pose.size == 0 or pose.size % 96:
        raise InputError(path, f"'Pose' has {pose.size} values, not a multiple of 32 joints x 3")
    positions = pose.reshape(-1, 32, 3).astype(np.float64) / 1000.0
    if not np.isfinite(positions).all():
        raise InputError(path, "'Pose' contains NaN or infinite values")
    return positions.astype(np.float32)


def convert_d3_positions(
    root: str | Path, subjects: Iterable[str] = SUBJECTS, keep_missing: bool = False
) -> dict[str, dict[str, np.ndarray]]:
    """Read `root/S*/MyPoseFeatures/D3_Positions/*.cdf` into {subject: {action: (T, 32, 3) metres}}.

    Action names follow VideoPose3D (TakingPhoto -> Photo, WalkingDog -> WalkDog); S11 'Directions' is
    dropped unless `keep_missing`, so the result matches the community file.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "no such directory")
    out: dict[str, dict[str, np.ndarray]] = {}
    for subject in subjects:
        files = sorted((root / subject / "MyPoseFeatures" / "D3_Positions").glob("*.cdf"))
        if not files:
            continue
        out[subject] = {}
        for file in files:
            action = canonical_action_name(file.stem)
            if not keep_missing and (subject, action) in MISSING_SEQUENCES:
                continue
            out[subject][action] = read_d3_positions_cdf(file)
    if not out:
        raise InputError(root, "no S*/MyPoseFeatures/D3_Positions/*.cdf files found")
    return out


# --- cameras and sequences -------------------------------------------------------------------------


def _to_camera(camera: Camera, positions_world: np.ndarray) -> np.ndarray:
    """(T, J, 3) world metres -> (T, J, 3) float32 camera-frame metres."""
    return np.asarray(world_to_camera(np.asarray(positions_world, dtype=np.float64), camera), dtype=np.float32)


def _select(
    names: Iterable[str], wanted: Sequence[str] | None, path: Path | None, what: str
) -> list[str]:
    available = sorted(names, key=natural_key)
    if wanted is None:
        return available
    missing = [w for w in wanted if w not in available]
    if missing:
        raise InputError(path, f"{what} {missing[0]} not in file (found: {', '.join(available)})")
    return list(wanted)


def _action_matches(action: str, filters: Sequence[str] | None) -> bool:
    """VideoPose3D's action filter: a name matches when it starts with any filter string."""
    return filters is None or any(action.startswith(f) for f in filters)


def build_sequences(
    positions_3d: Mapping[str, Mapping[str, np.ndarray]],
    positions_2d: Mapping[str, Mapping[str, Sequence[np.ndarray | None]]],
    cameras: Mapping[str, Sequence[Camera]],
    subjects: Sequence[str] | None = None,
    actions: Sequence[str] | None = None,
    fps: float = FPS,
    joints_3d: Sequence[int] | None = H36M32_TO_17,
    path_3d: Path | None = None,
    path_2d: Path | None = None,
    missing_ok: frozenset[tuple[str, str]] = MISSING_SEQUENCES,
) -> list[PoseSequence]:
    """Pair 3D poses with each camera's 2D keypoints: one PoseSequence per (subject, action, camera).

    3D world poses go to each camera's frame (metres); 2D pixels are normalised with the camera's width
    and height; 2D and 3D of different lengths are cropped to the shorter. `actions` are prefixes.
    """
    chosen = _select(positions_3d.keys(), subjects, path_3d, "subject")
    sequences: list[PoseSequence] = []
    for subject in chosen:
        if subject not in positions_2d:
            raise InputError(path_2d, f"subject {subject} is in the 3D file but not in the 2D file")
        if subject not in cameras:
            raise InputError(None, f"no camera calibration for subject {subject}")
        subject_cameras = cameras[subject]
        for action in sorted(positions_3d[subject], key=natural_key):
            if not _action_matches(action, actions):
                continue
            if action not in positions_2d[subject]:
                if (subject, action) in missing_ok:
                    continue
                raise InputError(path_2d, f"{subject}/{action} is in the 3D file but not in the 2D file")
            views = positions_2d[subject][action]
            if len(views) != len(subject_cameras):
                raise InputError(
                    path_2d, f"{subject}/{action}: {len(views)} camera views, calibration has {len(subject_cameras)}"
                )
            world = positions_3d[subject][action]
            if joints_3d is not None and world.shape[1] != len(joints_3d):
                world = world[:, list(joints_3d)]
            for index, (camera, view) in enumerate(zip(subject_cameras, views, strict=True)):
                if view is None:
                    continue
                if view.shape[1] != world.shape[1]:
                    raise InputError(
                        path_2d,
                        f"{subject}/{action}: {view.shape[1]} 2D joints but {world.shape[1]} 3D joints",
                    )
                frames = min(len(view), len(world))
                if frames == 0:
                    continue
                keypoints = normalize_screen_coordinates(view[:frames, :, :2], camera.width, camera.height)
                confidence = view[:frames, :, 2].astype(np.float32) if view.shape[-1] == 3 else None
                sequences.append(
                    PoseSequence(
                        keypoints_2d=keypoints.astype(np.float32),
                        poses_3d=_to_camera(camera, world[:frames]),
                        confidence=confidence,
                        fps=fps,
                        subject=subject,
                        action=action,
                        camera=camera.name or str(index),
                        camera_params=camera.params(),
                    )
                )
    return sequences


def load_h36m_sequences(
    data_3d: str | Path,
    data_2d: str | Path,
    subjects: Sequence[str] | None = TEST_SUBJECTS,
    actions: Sequence[str] | None = None,
    cameras: Mapping[str, Sequence[Camera]] | None = None,
) -> list[PoseSequence]:
    """Human3.6M sequences from the community files: 17 joints, camera-frame metres, 50 fps.

    `subjects` defaults to the test split (S9, S11); None takes every subject of the 3D file. `cameras`
    defaults to poselift.camera.load_h36m_cameras().
    """
    data_3d, data_2d = Path(data_3d), Path(data_2d)
    positions_3d = load_positions_3d(data_3d)
    positions_2d, metadata = load_positions_2d(data_2d, num_joints=17)
    layout = metadata.get("layout_name")
    if layout is not None and layout != "h36m":
        raise InputError(data_2d, f"keypoints are in the {layout!r} layout; Human3.6M 17-joint ('h36m') expected")
    if cameras is None:
        from poselift.camera import load_h36m_cameras

        cameras = load_h36m_cameras()
    return build_sequences(
        positions_3d, positions_2d, cameras, subjects, actions, path_3d=data_3d, path_2d=data_2d
    )


def synthesise_2d(
    positions_3d: Mapping[str, Mapping[str, np.ndarray]], cameras: Mapping[str, Sequence[Camera]]
) -> dict[str, dict[str, list[np.ndarray]]]:
    """Ground-truth 2D keypoints: project each 17-joint 3D pose into every camera (with lens distortion), pixels."""
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in positions_3d.items():
        if subject not in cameras:
            raise InputError(None, f"no camera calibration for subject {subject}")
        out[subject] = {}
        for action, world in actions.items():
            world17 = reduce_to_17(np.asarray(world))
            out[subject][action] = [
                np.asarray(project(_to_camera(camera, world17), camera), dtype=np.float32)
                for camera in cameras[subject]
            ]
    return out
