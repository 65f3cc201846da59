"""A body's size from its 17 Human3.6M joints, and rescaling lifted poses to a known height.

From one camera a small person near it and a tall one further away look the same, so a lifter's metric
size is its training data's (the shipped models: the Bandai Namco actors, nominal stature about 1.55 m).
When the person's height is known, `scale_to_height` makes root-relative poses that tall; when it is not,
the video path gives people an adult's height (ADULT_HEIGHT) rather than the training actors'.
"""

from __future__ import annotations

import numpy as np

from poselift.errors import InputError
from poselift.skeleton import H36M17

ADULT_HEIGHT = 1.70
"""Metres: the height `poselift video` gives a person when not told theirs (adults average about 1.65-1.75 m;
the shipped models' own size, about 1.55 m, made bodies 0.85x too small on the video benchmark's validation
set; this prior was chosen once, on that set: root-aligned MPJPE 111.6 -> 94.3 mm, docs/video-accuracy.md)."""

PERSON_HEIGHTS = (0.5, 2.6)
"""Heights (metres) accepted from a user: anything outside is most likely centimetres or feet."""

BONE_GROUPS: dict[str, tuple[tuple[int, int], ...]] = {
    "hip_width": ((0, 1), (0, 4)),
    "thigh": ((1, 2), (4, 5)),
    "shin": ((2, 3), (5, 6)),
    "lower_spine": ((0, 7),),
    "upper_spine": ((7, 8),),
    "neck": ((8, 9),),
    "head": ((9, 10),),
    "shoulder_width": ((8, 11), (8, 14)),
    "upper_arm": ((11, 12), (14, 15)),
    "forearm": ((12, 13), (15, 16)),
}
"""Human3.6M bones (parent, child) grouped by kind; left and right share a group."""

HEIGHT_CHAIN = ("thigh", "shin", "lower_spine", "upper_spine", "neck", "head")
STATURE_FACTOR = 1.05
"""Nominal stature = 1.05 x (thigh + shin + pelvis-spine-thorax-nose-head top); the 5 % stands for the
ankle height and the bends of the chain (gives ~1.70 m for Human3.6M's mean bone lengths)."""


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Median length of each Human3.6M bone over the frames: (17,) metres, entry j = bone parent(j) -> j."""
    parents = np.array(H36M17.parents)
    lengths = np.zeros(H36M17.num_joints)
    child = np.arange(1, H36M17.num_joints)
    lengths[child] = np.median(np.linalg.norm(joints[:, child] - joints[:, parents[child]], axis=-1), axis=0)
    return lengths


def stature(joints_or_lengths: np.ndarray) -> float:
    """Nominal standing height in metres of a (T, 17, 3) motion or of (17,) bone lengths (see STATURE_FACTOR)."""
    values = np.asarray(joints_or_lengths)
    lengths = bone_lengths(values) if values.ndim == 3 else values
    total = 0.0
    for group in HEIGHT_CHAIN:
        total += float(np.mean([lengths[c] for _, c in BONE_GROUPS[group]]))
    return STATURE_FACTOR * total


def check_height(height: float) -> None:
    """Raise InputError unless `height` is a person's height in metres (see PERSON_HEIGHTS)."""
    low, high = PERSON_HEIGHTS
    if not low <= height <= high:
        raise InputError(None, f"person height {height} m: give metres, between {low} and {high}")


def scale_to_height(poses: np.ndarray, height: float) -> np.ndarray:
    """Root-relative poses (T, 17, 3) scaled about the root so that their nominal stature is `height` metres."""
    if not height > 0:
        raise ValueError(f"height must be > 0 metres, got {height}")
    poses = np.asarray(poses)
    current = stature(poses)
    if not current > 0:
        raise ValueError("the poses have no size (all joints at one point)")
    return (poses * (height / current)).astype(poses.dtype)
