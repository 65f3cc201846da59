"""Training data: turn the `[data]` table of a config into PoseSequence lists for the train and val splits.

Kinds:
- "npz": our simple sequence files (see `save_sequences_npz`), for tests and custom data;
- "mocap": BVH motion capture, split by style, synthesised to 2D/3D pairs through virtual cameras
  (poselift.data.mocap, poselift.data.synthesis); with `resynthesize` the cameras and noise are drawn anew
  every epoch, seeded by the epoch, so a resumed run sees the same data;
- "h36m": Human3.6M's 3D poses and 2D keypoints files (poselift.data.h36m).
"""

from __future__ import annotations

import glob
import os
import zipfile
from pathlib import Path

import numpy as np

from poselift.data.sequences import PoseSequence
from poselift.errors import InputError
from poselift.training.config import DataConfig

SPLITS = ("train", "val")


def build_sequences(
    data_config: DataConfig, split: str, epoch: int = 0, seed: int = 0, device: str | None = None
) -> list[PoseSequence]:
    """The validated sequences of `split` ("train" or "val") for `epoch`; raises InputError on bad data.

    device: the training device; mocap training views are filmed there when data.synthesis says so."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if data_config.kind == "npz":
        paths = data_config.train if split == "train" else data_config.val
        sequences = [seq for path in paths for seq in load_sequences_npz(path)]
    elif data_config.kind == "mocap":
        sequences = _mocap_sequences(data_config, split, epoch, seed, device)
    elif data_config.kind == "h36m":
        sequences = _h36m_sequences(data_config, split)
    else:
        raise InputError(None, f"unknown data kind {data_config.kind!r}")
    if split == "train" and not sequences:
        sources = ", ".join(str(path) for path in data_config.train) or "none given"
        raise InputError(None, f"data ({data_config.kind}): no training sequences in data.train ({sources})")
    return sequences


def epoch_dependent(data_config: DataConfig) -> bool:
    """Whether the training sequences change from epoch to epoch (fresh synthetic cameras and noise)."""
    return data_config.kind == "mocap" and data_config.resynthesize


# --- npz ---------------------------------------------------------------------------------------

def save_sequences_npz(path: str | Path, sequences: list[PoseSequence]) -> None:
    """Write sequences as one npz: keypoints_2d_<i> (T, J, 2), poses_3d_<i> (T, J, 3), optional confidence_<i>
    (T, J), fps_<i>, subject_<i>, action_<i>, camera_<i>; atomically."""
    from poselift.atomic import save_npz_atomic

    arrays: dict[str, np.ndarray] = {}
    for i, seq in enumerate(sequences):
        arrays[f"keypoints_2d_{i}"] = np.asarray(seq.keypoints_2d, dtype=np.float32)
        arrays[f"poses_3d_{i}"] = np.asarray(seq.poses_3d, dtype=np.float32)
        if seq.confidence is not None:
            arrays[f"confidence_{i}"] = np.asarray(seq.confidence, dtype=np.float32)
        arrays[f"fps_{i}"] = np.asarray(seq.fps, dtype=np.float64)
        for key in ("subject", "action", "camera"):
            arrays[f"{key}_{i}"] = np.asarray(getattr(seq, key))
    save_npz_atomic(path, **arrays)


def load_sequences_npz(path: str | Path) -> list[PoseSequence]:
    """Read a file written by `save_sequences_npz` (or by hand with the same keys); one-line InputError if bad.

    A file-wide `fps` scalar is used for sequences without their own `fps_<i>` (default 50).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such data file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(path, f"not a readable .npz sequence file ({detail})") from None
    ids = sorted(int(k.rsplit("_", 1)[1]) for k in arrays if k.startswith("keypoints_2d_") and k[13:].isdigit())
    if not ids:
        raise InputError(path, "no keypoints_2d_<i> arrays (expected keypoints_2d_<i> and poses_3d_<i> pairs)")
    default_fps = float(arrays["fps"]) if "fps" in arrays else 50.0
    sequences = []
    for i in ids:
        if f"poses_3d_{i}" not in arrays:
            raise InputError(path, f"keypoints_2d_{i} has no matching poses_3d_{i}")
        seq = PoseSequence(
            keypoints_2d=arrays[f"keypoints_2d_{i}"].astype(np.float32),
            poses_3d=arrays[f"poses_3d_{i}"].astype(np.float32),
            confidence=arrays[f"confidence_{i}"].astype(np.float32) if f"confidence_{i}" in arrays else None,
            fps=float(arrays.get(f"fps_{i}", default_fps)),
            subject=str(arrays.get(f"subject_{i}", "")),
            action=str(arrays.get(f"action_{i}", "")),
            camera=str(arrays.get(f"camera_{i}", "")),
        )
        try:
            seq.validate()
        except InputError as error:
            raise InputError(path, f"sequence {i}: {error.problem}") from None
        if seq.num_frames == 0:
            raise InputError(path, f"sequence {i} has no frames")
        sequences.append(seq)
    return sequences


# --- mocap -------------------------------------------------------------------------------------

_CLIP_CACHE: dict[tuple, list] = {}


def _expand_patterns(patterns: tuple[str, ...]) -> list[str]:
    """Files, folders and glob patterns (`dir/*_normal_*.bvh`) -> a list of files and folders."""
    out: list[str] = []
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
            if not matches:
                raise InputError(pattern, "no files match this pattern")
            out.extend(matches)
        else:
            out.append(os.path.expanduser(pattern))
    return out


def load_clips(data_config: DataConfig, paths: tuple[str, ...]) -> list:
    """The mocap clips (poselift.data.mocap.MocapClip) of `paths`, read once per process and kept."""
    from poselift.data.mocap import load_mocap

    files = tuple(_expand_patterns(paths))
    key = (files, data_config.source, data_config.mapping, data_config.cache_dir)
    if key not in _CLIP_CACHE:
        _CLIP_CACHE[key] = load_mocap(
            list(files), source=data_config.source, mapping=data_config.mapping or None,
            cache_dir=data_config.cache_dir or None,
        )
    return _CLIP_CACHE[key]


def synthesis_device(data_config: DataConfig, device: str | None) -> str | None:
    """Where training views are filmed: a torch device name, or None for numpy on the host."""
    if data_config.synthesis == "host" or device is None or data_config.cameras != "random":
        return None
    if data_config.synthesis == "device" or str(device).startswith("cuda"):
        return str(device)
    return None


def _mocap_sequences(
    data_config: DataConfig, split: str, epoch: int, seed: int, device: str | None = None
) -> list[PoseSequence]:
    """Clips split by style, then synthesised; training data is drawn anew each epoch when `resynthesize`."""
    from poselift.data.mocap import split_by_style
    from poselift.data.synthesis import NO_AUGMENTATION, MotionAugmentation, synthesize

    clips = load_clips(data_config, data_config.train) if data_config.train else []
    train_clips, held_out = split_by_style(clips, data_config.holdout_styles)
    if split == "train":
        if data_config.train and not train_clips:
            raise InputError(None, "data: every training clip has a held-out style; nothing left to train on")
        chosen = train_clips
        synthesis_seed = seed * 1_000_003 + (epoch if data_config.resynthesize else 0)
        augmentation = MotionAugmentation(
            proportions=data_config.augment_proportions,
            height_range=tuple(data_config.height_range) or None,
            speed_range=tuple(data_config.speed_range) or None,
            limb_rotation=data_config.limb_rotation,
            arm_swap=data_config.arm_swap,
        )
    else:
        chosen = held_out + (load_clips(data_config, data_config.val) if data_config.val else [])
        synthesis_seed = seed * 1_000_003 + 999_983  # fixed: the same validation set every epoch
        # Validation sees the motion capture's own bodies and motion, as `poselift evaluate --bvh` does.
        augmentation = NO_AUGMENTATION
    if not chosen:
        return []
    place = synthesis_device(data_config, device) if split == "train" else None
    return synthesize(
        chosen,
        cameras=data_config.cameras,
        views_per_clip=data_config.views_per_clip,
        fps=data_config.fps or None,
        noise=data_config.noise,
        augmentation=augmentation,
        seed=synthesis_seed,
        max_seconds=data_config.max_seconds or None,
        device=place,
    )


# --- Human3.6M ---------------------------------------------------------------------------------

def _h36m_sequences(data_config: DataConfig, split: str) -> list[PoseSequence]:
    """Human3.6M's community files; `data_2d = "gt"` projects the 3D poses through the cameras instead."""
    try:
        from poselift.data import h36m
    except ImportError:
        raise InputError(None, "data kind 'h36m' needs poselift.data.h36m, which this install lacks") from None
    if not data_config.data_3d:
        raise InputError(None, "data kind 'h36m' needs data.data_3d (the data_3d_h36m.npz file)")
    if not data_config.data_2d:
        raise InputError(None, "data kind 'h36m' needs data.data_2d (a data_2d_h36m_<source>.npz file, or \"gt\")")
    subjects = list(data_config.train_subjects if split == "train" else data_config.val_subjects)
    if not subjects:
        return []
    actions = list(data_config.actions) or None
    if data_config.data_2d == "gt":
        from poselift.camera import load_h36m_cameras

        cameras = load_h36m_cameras()
        positions_3d = h36m.load_positions_3d(data_config.data_3d)
        positions_2d = h36m.synthesise_2d(positions_3d, cameras)
        sequences = h36m.build_sequences(
            positions_3d, positions_2d, cameras, subjects, actions, path_3d=Path(data_config.data_3d)
        )
    else:
        sequences = h36m.load_h36m_sequences(data_config.data_3d, data_config.data_2d, subjects, actions)
    k = max(1, data_config.downsample)
    if k > 1:
        for seq in sequences:
            seq.keypoints_2d = seq.keypoints_2d[::k]
            seq.poses_3d = seq.poses_3d[::k]
            seq.confidence = None if seq.confidence is None else seq.confidence[::k]
            seq.fps = seq.fps / k
    return sequences
