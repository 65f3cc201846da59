"""Forward kinematics over a parent list, vectorised over frames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def forward_kinematics(
    parents: Sequence[int] | np.ndarray, rotations: np.ndarray, translations: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """World positions (T, J, 3) and world rotations (T, J, 3, 3) of a joint tree.

    parents: (J,) the parent of each joint, -1 for a root, parents before their children; rotations:
    (T, J, 3, 3) each joint's rotation in its parent's frame; translations: (T, J, 3) each joint's offset
    from its parent in the parent's frame (a root's: its world position). A joint's world position is its
    parent's plus the parent's world rotation applied to its offset; its world rotation is the parent's
    world rotation @ its own.
    """
    world_rot = np.empty_like(rotations)
    world_pos = np.empty_like(translations)
    for j, parent in enumerate(parents):
        if parent < 0:
            world_rot[:, j] = rotations[:, j]
            world_pos[:, j] = translations[:, j]
        else:
            world_rot[:, j] = world_rot[:, parent] @ rotations[:, j]
            offset = np.einsum("tab,tb->ta", world_rot[:, parent], translations[:, j])
            world_pos[:, j] = world_pos[:, parent] + offset
    return world_pos, world_rot
