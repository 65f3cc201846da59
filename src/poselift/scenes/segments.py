"""The body's 17 rigid segments: which MakeHuman bones each one gathers, and its parent.

Skinning weights of MakeHuman's 139 weighted bones are summed per segment, so a segment moves the skin its
bones carry: hands and feet are rigid (fingers and toes follow), the face follows the head.
"""

from __future__ import annotations

SEGMENTS = ("pelvis", "spine", "chest", "neck", "head",
            "upperarm_l", "forearm_l", "hand_l", "upperarm_r", "forearm_r", "hand_r",
            "thigh_l", "shin_l", "foot_l", "thigh_r", "shin_r", "foot_r")
SEGMENT_PARENTS = (-1, 0, 1, 2, 3, 2, 5, 6, 2, 8, 9, 0, 11, 12, 0, 14, 15)

_ROOTS = {
    "root": "pelvis", "pelvis.L": "pelvis", "pelvis.R": "pelvis",
    "spine05": "spine", "spine04": "spine", "spine03": "chest",
    "neck01": "neck", "neck02": "neck", "neck03": "neck", "head": "head",
    "upperarm01.L": "upperarm_l", "lowerarm01.L": "forearm_l", "wrist.L": "hand_l",
    "upperarm01.R": "upperarm_r", "lowerarm01.R": "forearm_r", "wrist.R": "hand_r",
    "upperleg01.L": "thigh_l", "lowerleg01.L": "shin_l", "foot.L": "foot_l",
    "upperleg01.R": "thigh_r", "lowerleg01.R": "shin_r", "foot.R": "foot_r",
}
"""The first bone of each segment (MakeHuman names); a bone belongs to its nearest listed ancestor."""


def bone_segment(bone: str, bones: dict[str, dict]) -> str:
    """The segment a MakeHuman bone belongs to: that of its nearest ancestor listed in _ROOTS."""
    name: str | None = bone
    while name is not None:
        if name in _ROOTS:
            return _ROOTS[name]
        name = bones[name].get("parent")
    raise ValueError(f"bone {bone} has no segment")
