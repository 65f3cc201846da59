"""Motion capture -> Human3.6M 17-joint clips: explicit per-source joint mappings, auto-detection, loading.

A mapping says, for each of the 17 Human3.6M joints, how to place it from the source skeleton's joints:
- "JointName": that joint's world position;
- {"between": [a, b, ...], "weights": [wa, wb, ...]}: a weighted sum of joint positions (weights default to
  equal and should sum to 1; weights outside [0, 1] extrapolate, e.g. [1.5, -0.5] widens a pair of hips);
- {"offset_from": a, "offset": [x, y, z]}: joint a's position plus an offset given in source units in a's
  own local (BVH) frame, so it turns with that joint (e.g. a head-top point above a head joint).
plus "units_to_metres", "up_axis" ("y" or "z") and optionally "skip_frames" (frames dropped at the start, e.g. a
T-pose a converter added). Built-in mappings for the Bandai-Namco and CMU (cgspeed)
skeletons are below; docs/data.md explains what each approximates.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from poselift.data.bvh import BvhMotion, forward_kinematics, read_bvh
from poselift.errors import InputError
from poselift.skeleton import H36M17

CMU_UNITS_TO_METRES = (1.0 / 0.45) * 2.54 / 100.0
"""One cgspeed CMU BVH unit in metres (about 0.0564)."""

BANDAI_MAPPING: dict[str, Any] = {
    "name": "bandai",
    "units_to_metres": 0.01,
    "up_axis": "y",
    "joints": {
        # Hip joint centres of the mocap skeleton are ~13 cm apart; Human3.6M's are ~26 cm: double the spread.
        "pelvis": {"between": ["UpperLeg_R", "UpperLeg_L"]},
        "right_hip": {"between": ["UpperLeg_R", "UpperLeg_L"], "weights": [1.5, -0.5]},
        "right_knee": "LowerLeg_R",
        "right_ankle": "Foot_R",
        "left_hip": {"between": ["UpperLeg_L", "UpperLeg_R"], "weights": [1.5, -0.5]},
        "left_knee": "LowerLeg_L",
        "left_ankle": "Foot_L",
        "spine": {"between": ["Spine", "Chest"]},
        "thorax": "Neck",
        # The Head joint sits ~6.5 cm above the base of the neck; its local axes are x up, y forward, z left.
        "neck": {"offset_from": "Head", "offset": [4.0, 6.0, 0.0]},
        "head": {"offset_from": "Head", "offset": [15.0, 1.0, 0.0]},
        # Shoulder joints are ~20 cm apart, Human3.6M's ~30 cm: widen by half.
        "left_shoulder": {"between": ["UpperArm_L", "UpperArm_R"], "weights": [1.25, -0.25]},
        "left_elbow": "LowerArm_L",
        "left_wrist": "Hand_L",
        "right_shoulder": {"between": ["UpperArm_R", "UpperArm_L"], "weights": [1.25, -0.25]},
        "right_elbow": "LowerArm_R",
        "right_wrist": "Hand_R",
    },
}
"""Bandai-Namco Research Motion Dataset skeleton (centimetres, Y up) -> Human3.6M 17 joints."""

CMU_MAPPING: dict[str, Any] = {
    "name": "cmu",
    "units_to_metres": CMU_UNITS_TO_METRES,
    "up_axis": "y",
    "joints": {
        "pelvis": {"between": ["RightHip", "LeftHip"]},
        "right_hip": {"between": ["RightHip", "LeftHip"], "weights": [1.5, -0.5]},
        "right_knee": "RightKnee",
        "right_ankle": "RightAnkle",
        "left_hip": {"between": ["LeftHip", "RightHip"], "weights": [1.5, -0.5]},
        "left_knee": "LeftKnee",
        "left_ankle": "LeftAnkle",
        "spine": "Chest",
        "thorax": "Neck",
        # Head joint local axes follow the world at rest: x left, y up, z forward. ~8.5 cm forward = nose.
        "neck": {"offset_from": "Head", "offset": [0.0, 0.2, 1.5]},
        "head": {"between": ["Head_End", "Head"], "weights": [1.2, -0.2]},
        "left_shoulder": "LeftShoulder",
        "left_elbow": "LeftElbow",
        "left_wrist": "LeftWrist",
        "right_shoulder": "RightShoulder",
        "right_elbow": "RightElbow",
        "right_wrist": "RightWrist",
    },
}
"""CMU Graphics Lab mocap in the cgspeed BVH conversion (1 unit = 2.54/0.45 cm, Y up) -> Human3.6M."""

CMU_DAZ_MAPPING: dict[str, Any] = {
    "name": "cmu-daz",
    "units_to_metres": 0.01,
    "up_axis": "y",
    "skip_frames": 1,
    "joints": {
        # The hip joints (thighs) are ~17.6 cm apart and the figure ~1.65 m tall: widened to the training data's
        # hip width for that height (~27 cm), as BANDAI_MAPPING widens its narrower pair.
        "pelvis": {"between": ["rThigh", "lThigh"]},
        "right_hip": {"between": ["rThigh", "lThigh"], "weights": [1.28, -0.28]},
        "right_knee": "rShin",
        "right_ankle": "rFoot",
        "left_hip": {"between": ["lThigh", "rThigh"], "weights": [1.28, -0.28]},
        "left_knee": "lShin",
        "left_ankle": "lFoot",
        # Spine 52 % of the way from the pelvis to the neck base, as the Bandai mapping's Spine-Chest midpoint.
        "spine": {"between": ["abdomen", "chest"], "weights": [0.25, 0.75]},
        "thorax": "neck",
        # Head joint local axes follow the world at rest: x left, y up, z forward.
        "neck": {"offset_from": "head", "offset": [0.0, 5.5, 4.6]},
        "head": {"offset_from": "head", "offset": [0.0, 15.0, 0.0]},
        # Shoulder joints are ~23 cm apart: widened to ~32 cm like the Bandai mapping's.
        "left_shoulder": {"between": ["lShldr", "rShldr"], "weights": [1.21, -0.21]},
        "left_elbow": "lForeArm",
        "left_wrist": "lHand",
        "right_shoulder": {"between": ["rShldr", "lShldr"], "weights": [1.21, -0.21]},
        "right_elbow": "rForeArm",
        "right_wrist": "rHand",
    },
}
"""CMU subjects 01-14 in the Daz-friendly BVH release (centimetres, Y up, one Daz figure for every file) ->
Human3.6M; frame 0 of each file is a T-pose the converter added (skip_frames drops it)."""

BUILTIN_MAPPINGS: dict[str, dict[str, Any]] = {"bandai": BANDAI_MAPPING, "cmu": CMU_MAPPING,
                                               "cmu-daz": CMU_DAZ_MAPPING}

_BANDAI_NAME = re.compile(r"^(dataset-\d+)_(.+)_([^_]+)_(\d+)$")
_CMU_NAME = re.compile(r"^(\d+)_(\d+)$")


@dataclass
class MocapClip:
    """One motion capture take on the Human3.6M 17-joint skeleton.

    joints_3d: (T, 17, 3) float32 world metres, Y up (floor near y = 0 when the source has one).
    """

    joints_3d: np.ndarray
    fps: float
    source: str
    name: str
    subject: str = ""
    action: str = ""
    style: str = ""
    take: str = ""
    path: str = ""

    @property
    def num_frames(self) -> int:
        """The number of frames T."""
        return int(self.joints_3d.shape[0])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps


# ----------------------------------------------------------------------------------------------- mappings


def load_mapping(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a user mapping file (JSON, see the module docstring and docs/data.md)."""
    path = Path(path)
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(path, f"cannot read mapping: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON: {error}") from None
    mapping.setdefault("name", path.stem)
    check_mapping(mapping, source=path)
    return mapping


def check_mapping(mapping: dict[str, Any], source: str | os.PathLike | None = None) -> None:
    """Raise InputError unless `mapping` is well formed: all 17 joints, units, up axis, valid entries."""
    if not isinstance(mapping, dict) or not isinstance(mapping.get("joints"), dict):
        raise InputError(source, 'a mapping needs a "joints" object')
    units = mapping.get("units_to_metres")
    if not isinstance(units, int | float) or not units > 0:
        raise InputError(source, f'"units_to_metres" must be a positive number, found {units!r}')
    skip = mapping.get("skip_frames", 0)
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise InputError(source, f'"skip_frames" must be a whole number >= 0, found {skip!r}')
    if str(mapping.get("up_axis", "y")).lower() not in ("y", "z"):
        raise InputError(source, f'"up_axis" must be "y" or "z", found {mapping.get("up_axis")!r}')
    joints = mapping["joints"]
    missing = [n for n in H36M17.joint_names if n not in joints]
    unknown = [n for n in joints if n not in H36M17.joint_names]
    if missing or unknown:
        raise InputError(
            source, f"mapping joints must be exactly the 17 Human3.6M names; missing {missing}, unknown {unknown}"
        )
    for name, spec in joints.items():
        if isinstance(spec, str):
            continue
        if not isinstance(spec, dict):
            raise InputError(source, f"{name}: expected a joint name or an object, found {spec!r}")
        if "between" in spec:
            names = spec["between"]
            weights = spec.get("weights", [1.0 / max(len(names), 1)] * len(names))
            if not names or not all(isinstance(n, str) for n in names) or len(weights) != len(names):
                raise InputError(source, f"{name}: 'between' needs joint names and as many weights")
            if abs(sum(weights) - 1.0) > 1e-6:
                raise InputError(source, f"{name}: weights must sum to 1, found {sum(weights)}")
        elif "offset_from" in spec:
            offset = spec.get("offset")
            if not isinstance(spec["offset_from"], str) or not isinstance(offset, list) or len(offset) != 3:
                raise InputError(source, f"{name}: 'offset_from' needs a joint name and a 3-vector 'offset'")
        else:
            raise InputError(source, f"{name}: expected 'between' or 'offset_from', found keys {sorted(spec)}")


def mapping_joint_names(mapping: dict[str, Any]) -> set[str]:
    """The source joint names a mapping refers to."""
    names: set[str] = set()
    for spec in mapping["joints"].values():
        if isinstance(spec, str):
            names.add(spec)
        elif "between" in spec:
            names.update(spec["between"])
        else:
            names.add(spec["offset_from"])
    return names


def detect_mapping(joint_names: Iterable[str], source: str | os.PathLike | None = None) -> dict[str, Any]:
    """Pick the built-in mapping whose joints all exist in `joint_names`; InputError if none fits."""
    available = set(joint_names)
    for mapping in BUILTIN_MAPPINGS.values():
        if mapping_joint_names(mapping) <= available:
            return mapping
    raise InputError(
        source,
        f"unknown skeleton (joints {sorted(available)[:12]}...); known: {sorted(BUILTIN_MAPPINGS)}. "
        "Give a joint-mapping JSON file: `--mapping FILE` on the command line (poselift evaluate, "
        "poselift train's data.mapping), mapping= or source= in Python; see docs/data.md",
    )


def resolve_mapping(source: str, mapping: str | os.PathLike | dict | None) -> dict[str, Any] | None:
    """The mapping to use: an explicit dict or file wins, then a built-in name; None means auto-detect."""
    if isinstance(mapping, dict):
        check_mapping(mapping)
        return mapping
    if mapping is not None:
        return load_mapping(mapping)
    if source == "auto":
        return None
    if source not in BUILTIN_MAPPINGS:
        raise InputError(None, f"unknown mocap source {source!r}; known: auto, {', '.join(BUILTIN_MAPPINGS)}")
    return BUILTIN_MAPPINGS[source]


def apply_mapping(motion: BvhMotion, mapping: dict[str, Any]) -> np.ndarray:
    """Human3.6M joints from a BVH motion: (T, 17, 3) float32 metres, Y up."""
    needed = mapping_joint_names(mapping)
    missing = sorted(needed - set(motion.joint_names))
    if missing:
        raise InputError(motion.source, f"mapping {mapping.get('name', '')!r} needs joints absent here: {missing}")
    uses_rotations = any(isinstance(s, dict) and "offset_from" in s for s in mapping["joints"].values())
    if uses_rotations:
        positions, rotations = forward_kinematics(motion, return_rotations=True)
    else:
        positions, rotations = forward_kinematics(motion), None
    out = np.empty((motion.num_frames, H36M17.num_joints, 3), dtype=np.float64)
    for j, name in enumerate(H36M17.joint_names):
        spec = mapping["joints"][name]
        if isinstance(spec, str):
            out[:, j] = positions[:, motion.index(spec)]
        elif "between" in spec:
            names = spec["between"]
            weights = spec.get("weights", [1.0 / len(names)] * len(names))
            out[:, j] = sum(w * positions[:, motion.index(n)] for n, w in zip(names, weights, strict=True))
        else:
            k = motion.index(spec["offset_from"])
            offset = np.asarray(spec["offset"], dtype=np.float64)
            out[:, j] = positions[:, k] + rotations[:, k] @ offset
    out *= float(mapping["units_to_metres"])
    if str(mapping.get("up_axis", "y")).lower() == "z":
        # Z-up right-handed -> Y-up right-handed: (x, y, z) -> (x, z, -y).
        out = np.stack([out[..., 0], out[..., 2], -out[..., 1]], axis=-1)
    return out.astype(np.float32)


# ------------------------------------------------------------------------------------------------ loading


def parse_clip_name(stem: str) -> dict[str, str]:
    """subject/action/style/take from a file name: Bandai `dataset-N_{content}_{style}_{take}`, CMU `131_03`."""
    match = _BANDAI_NAME.match(stem)
    if match:
        dataset, content, style, take = match.groups()
        return {"subject": dataset, "action": content, "style": style, "take": take}
    match = _CMU_NAME.match(stem)
    if match:
        return {"subject": match.group(1), "action": "", "style": "", "take": match.group(2)}
    return {"subject": stem, "action": "", "style": "", "take": ""}


def clip_content(name: str) -> str:
    """What a clip shows, from its name: a Bandai file's content (`dataset-1_bow_...` -> `bow`), else the name."""
    return parse_clip_name(name)["action"] or name


def _round_fps(frame_time: float) -> float:
    fps = 1.0 / frame_time
    return float(round(fps)) if abs(fps - round(fps)) < 1e-3 * fps else fps


def _expand(paths_or_dirs: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    items = [paths_or_dirs] if isinstance(paths_or_dirs, str | os.PathLike) else list(paths_or_dirs)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() == ".bvh" and p.is_file())
            if not found:
                raise InputError(path, "no .bvh files in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(path, "no such file or folder")
    return files


def _cache_file(cache_dir: Path, path: Path, mapping: dict[str, Any] | None) -> Path:
    stat = path.stat()
    key = json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, mapping], sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return cache_dir / f"{path.stem}-{digest}.npz"


def load_clip(path: str | os.PathLike, mapping: dict[str, Any] | None = None) -> MocapClip:
    """Read one BVH file and map it to a 17-joint MocapClip (mapping None = auto-detect)."""
    path = Path(path)
    motion = read_bvh(path)
    used = mapping if mapping is not None else detect_mapping(motion.joint_names, path)
    joints = apply_mapping(motion, used)[int(used.get("skip_frames", 0)):]
    if len(joints) == 0:
        raise InputError(path, f"no frames left after skipping {used.get('skip_frames')} (mapping {used.get('name')})")
    return MocapClip(
        joints_3d=joints, fps=_round_fps(motion.frame_time), source=str(used.get("name", "custom")),
        name=path.stem, path=str(path), **parse_clip_name(path.stem),
    )


def load_mocap(
    paths_or_dirs: str | os.PathLike | Sequence[str | os.PathLike],
    source: str = "auto",
    mapping: str | os.PathLike | dict[str, Any] | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> list[MocapClip]:
    """Load BVH files (folders are searched recursively) as 17-joint clips in metres, Y up.

    source: "auto" (detect by joint names), "bandai" or "cmu"; mapping: a mapping file or dict, which wins
    over `source`. cache_dir: optional folder keeping the mapped joints per file (keyed by path, size,
    mtime and mapping), which makes re-loading the whole Bandai set take about a second.
    """
    files = _expand(paths_or_dirs)
    chosen = resolve_mapping(source, mapping)
    cache = None if cache_dir is None else Path(cache_dir)
    iterator: Iterable[Path] = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc="mocap", unit="file", disable=None)
    clips = []
    for path in iterator:
        cached = None if cache is None else _cache_file(cache, path, chosen)
        if cached is not None and cached.is_file():
            with np.load(cached, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                clips.append(MocapClip(joints_3d=data["joints_3d"], **meta))
            continue
        clip = load_clip(path, chosen)
        clips.append(clip)
        if cached is not None:
            from poselift.atomic import atomic_path

            meta = {k: getattr(clip, k) for k in ("fps", "source", "name", "subject", "action", "style", "take")}
            meta["path"] = clip.path
            with atomic_path(cached, suffix=".npz") as tmp:
                np.savez(tmp, joints_3d=clip.joints_3d, meta=np.array(json.dumps(meta)))
    return clips


def split_by_style(
    clips: Sequence[MocapClip], holdout_styles: Iterable[str]
) -> tuple[list[MocapClip], list[MocapClip]]:
    """Split clips into (train, held_out): held_out has every clip whose style is in holdout_styles."""
    held = {s.lower() for s in holdout_styles}
    train = [c for c in clips if c.style.lower() not in held]
    held_out = [c for c in clips if c.style.lower() in held]
    return train, held_out


def style_counts(clips: Sequence[MocapClip]) -> dict[str, tuple[int, int]]:
    """Per style: (number of clips, number of frames), for reports and choosing held-out styles."""
    counts: dict[str, tuple[int, int]] = {}
    for clip in clips:
        n, f = counts.get(clip.style, (0, 0))
        counts[clip.style] = (n + 1, f + clip.num_frames)
    return dict(sorted(counts.items()))
