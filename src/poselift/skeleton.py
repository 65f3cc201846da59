"""Joint layouts: names, parents and left/right symmetry of the skeletons poselift reads and writes.

Every pose array in poselift is in the Human3.6M 17-joint order unless its name says otherwise;
other layouts (COCO, Halpe, MediaPipe, ...) are converted to it explicitly where they are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """A joint layout: names, the parent of each joint (-1 for the root) and the left/right pairs."""

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, joint_name: str) -> int:
        """The index of a joint by name."""
        return self.joint_names.index(joint_name)

    def flip_permutation(self) -> np.ndarray:
        """Index array that swaps every left joint with its right counterpart, shape (J,)."""
        perm = np.arange(self.num_joints)
        perm[list(self.left)] = self.right
        perm[list(self.right)] = self.left
        return perm

    def bones(self) -> list[tuple[int, int]]:
        """(parent, child) pairs for every non-root joint."""
        return [(p, c) for c, p in enumerate(self.parents) if p >= 0]


H36M17 = Skeleton(
    name="h36m17",
    joint_names=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "spine", "thorax", "neck", "head", "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left=(4, 5, 6, 11, 12, 13),
    right=(1, 2, 3, 14, 15, 16),
)
"""Human3.6M's 17 joints as used by VideoPose3D and the attention network ("neck" is the nose/neck
point, "head" the top of the head)."""

HUMANEVA15 = Skeleton(
    name="humaneva15",
    joint_names=(
        "pelvis", "thorax", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
        "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip",
        "right_knee", "right_ankle", "head",
    ),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    left=(2, 3, 4, 8, 9, 10),
    right=(5, 6, 7, 11, 12, 13),
)
"""HumanEva-I's 15 joints in VideoPose3D's layout."""

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (H36M17, HUMANEVA15)}


def mirror_poses(poses: Any, permutation: Any) -> Any:
    """Poses (..., J, C), a numpy array or a torch tensor, seen in a mirror: joints reordered by `permutation`
    (a skeleton's `flip_permutation`, left <-> right) and x negated; a new array."""
    out = poses[..., permutation, :]  # advanced indexing: a copy
    out[..., 0] *= -1
    return out


def flip_average(direct: Any, mirrored_output: Any, permutation: Any) -> Any:
    """Flip averaging (test-time augmentation): the mean of the output for the input and the output for the
    mirrored input, mirrored back. (..., J, 3) numpy arrays or torch tensors; used by every lifting path."""
    return (direct + mirror_poses(mirrored_output, permutation)) / 2


def flip_poses(poses: np.ndarray, skeleton: Skeleton = H36M17) -> np.ndarray:
    """Mirror poses horizontally: negate x and swap left and right joints. poses: (..., J, C)."""
    return mirror_poses(poses, skeleton.flip_permutation())
