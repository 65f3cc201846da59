"""A clean animation skeleton (rig) from lifted Human3.6M joints: fixed bone lengths, a T-pose rest, names.

Rest pose axes: metres, Y up, the character faces +Z, so its LEFT side is +X (right-handed frame). The rest
pose is a T-pose: legs straight down, spine straight up, upper arms and forearms horizontal along +-X.
Three directions follow the neutral geometry of the Human3.6M points instead of a textbook T-pose, so that
a person standing naturally gives identity rotations: the clavicles (thorax -> shoulder) drop 12 degrees,
the neck bone (thorax -> nose) leans 30 degrees forward and the head bone (nose -> top of head) 25 degrees
back (medians measured on the Bandai-Namco mocap mapped to the 17 joints, rounded).

The rig has 20 BVH joints over the 17 points. Each joint sits at one point and its rotation aims the bone to
its child point, so every point is reproduced exactly. Where one point branches to several bones, extra
joints sit at the same point with zero offset, as CMU's files do (LowerBack, LHipJoint): `Spine` at the
pelvis (the pelvis -> spine bone), and at the thorax `Neck`, `LeftShoulder` and `RightShoulder` (the neck
and the two clavicles). The two hip bones form one rigid segment through the pelvis (`retarget` keeps the
observed left-right hip axis), because a single Hips joint turns them both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poselift.body_size import bone_lengths
from poselift.errors import InputError
from poselift.skeleton import H36M17

NAMINGS = ("humanoid", "h36m")
"""Joint naming schemes of the written rig."""

H36M_PARENTS = np.array(H36M17.parents)
SYMMETRIC_BONES = ((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16))
"""Pairs of points whose bones (from their parents) get one common length: (right, left)."""

CLAVICLE_DROP_DEG = 12.0
NECK_PITCH_DEG = 30.0
HEAD_PITCH_DEG = -25.0
ANKLE_HEIGHT_PER_LEG = 0.09
"""Height of the ankle point above the sole, as a fraction of the leg length (hip -> knee -> ankle): 8 cm for
a Human3.6M-sized leg, as poselift.video.trajectory assumes."""
HAND_PER_FOREARM = 0.7
FOOT_PER_SHIN = 0.35
HEAD_END_PER_HEAD = 0.25


@dataclass(frozen=True)
class JointSpec:
    """One BVH joint of the rig: its names, parent, the point it sits at and how its rotation is solved.

    rule: "hips" (hip axis + spine), "swing" (smallest rotation from the parent), "shoulders" (aim + the
    shoulder line as twist), "bend" (aim + the bend plane of the next joint as twist), "leaf" (turns with
    its parent), "foot" (flat, facing where the hips face).
    """

    humanoid: str
    h36m: str
    parent: int
    point: int
    aim: int | None
    rule: str
    bend_point: int | None = None


JOINTS: tuple[JointSpec, ...] = (
    JointSpec("Hips", "pelvis", -1, 0, None, "hips"),
    JointSpec("Spine", "lower_back", 0, 0, 7, "swing"),
    JointSpec("Chest", "spine", 1, 7, 8, "shoulders"),
    JointSpec("Neck", "thorax", 2, 8, 9, "swing"),
    JointSpec("Head", "neck", 3, 9, 10, "shoulders"),
    JointSpec("HeadTop_End", "head", 4, 10, None, "leaf"),
    JointSpec("LeftShoulder", "left_clavicle", 2, 8, 11, "swing"),
    JointSpec("LeftUpperArm", "left_shoulder", 6, 11, 12, "bend", 13),
    JointSpec("LeftLowerArm", "left_elbow", 7, 12, 13, "swing"),
    JointSpec("LeftHand", "left_wrist", 8, 13, None, "leaf"),
    JointSpec("RightShoulder", "right_clavicle", 2, 8, 14, "swing"),
    JointSpec("RightUpperArm", "right_shoulder", 10, 14, 15, "bend", 16),
    JointSpec("RightLowerArm", "right_elbow", 11, 15, 16, "swing"),
    JointSpec("RightHand", "right_wrist", 12, 16, None, "leaf"),
    JointSpec("LeftUpperLeg", "left_hip", 0, 4, 5, "bend", 6),
    JointSpec("LeftLowerLeg", "left_knee", 14, 5, 6, "swing"),
    JointSpec("LeftFoot", "left_ankle", 15, 6, None, "foot"),
    JointSpec("RightUpperLeg", "right_hip", 0, 1, 2, "bend", 3),
    JointSpec("RightLowerLeg", "right_knee", 17, 2, 3, "swing"),
    JointSpec("RightFoot", "right_ankle", 18, 3, None, "foot"),
)
"""The rig's joints in BVH order (parents first). Humanoid names are Unity's HumanBodyBones (also VRM's,
capitalised); see docs/animation.md for Mixamo and Blender equivalents."""

POINT_JOINT = np.array([0, 17, 18, 19, 14, 15, 16, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13])
"""For each of the 17 points, the rig joint located there that represents it (Neck for the thorax)."""

STANDARD_LENGTHS = np.array(
    [0.0, 0.133, 0.45, 0.44, 0.133, 0.45, 0.44, 0.233, 0.257, 0.12, 0.115, 0.15, 0.28, 0.25, 0.15, 0.28, 0.25]
)
"""Bone lengths (17,) metres, from each point's parent to the point: a mean Human3.6M subject (rounded)."""


@dataclass(frozen=True)
class Rig:
    """A skeleton with fixed bone lengths, ready to animate.

    lengths: (17,) metres, bone from each point's parent (0 for the pelvis); rest: (17, 3) T-pose point
    positions, pelvis at the origin; offsets: (J, 3) BVH joint OFFSETs, metres; end_sites: (J, 3) End Site
    offsets, metres (NaN where a joint has children).
    """

    naming: str
    lengths: np.ndarray
    rest: np.ndarray
    offsets: np.ndarray
    end_sites: np.ndarray

    @property
    def names(self) -> list[str]:
        """The BVH joint names in this rig's naming scheme."""
        return [getattr(spec, self.naming) for spec in JOINTS]

    @property
    def parents(self) -> np.ndarray:
        """(J,) parent joint index, -1 for the root."""
        return np.array([spec.parent for spec in JOINTS])

    @property
    def points(self) -> np.ndarray:
        """(J,) the Human3.6M point each joint sits at."""
        return np.array([spec.point for spec in JOINTS])

    @property
    def ankle_height(self) -> float:
        """Height of the ankle point above the sole, metres (a fixed fraction of the leg length)."""
        return float(ANKLE_HEIGHT_PER_LEG * (self.lengths[2] + self.lengths[3]))

    def rest_direction(self, joint: int) -> np.ndarray:
        """(3,) unit direction of the bone a joint aims at rest (its End Site for leaves)."""
        spec = JOINTS[joint]
        if spec.aim is None:
            end = self.end_sites[joint]
            return end / np.linalg.norm(end)
        d = self.rest[spec.aim] - self.rest[spec.point]
        return d / np.linalg.norm(d)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _check_joints(joints: np.ndarray) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (17, 3):
        raise InputError(None, f"expected joints of shape (T, 17, 3), found {joints.shape}")
    if joints.shape[0] == 0:
        raise InputError(None, "no frames")
    if not np.isfinite(joints).all():
        bad = np.unique(np.nonzero(~np.isfinite(joints))[0])
        raise InputError(None, f"joints contain NaN or infinite values in {len(bad)} frames (first: {bad[0]})")
    return joints


def symmetric_bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Fixed bone lengths for a rig (17,) metres from joints (T, 17, 3): the per-bone medians of
    `poselift.body_size.bone_lengths`, then left and right made equal (their mean); entry 0 (pelvis) is 0."""
    lengths = bone_lengths(_check_joints(joints))
    for right, left in SYMMETRIC_BONES:
        lengths[right] = lengths[left] = 0.5 * (lengths[right] + lengths[left])
    if not (lengths[1:] > 1e-6).all():
        raise InputError(None, "a bone has zero length in most frames (are the joints all at one point?)")
    return lengths


def rest_pose(lengths: np.ndarray) -> np.ndarray:
    """T-pose positions (17, 3) metres for bone lengths (17,): Y up, facing +Z, left = +X, pelvis at 0."""
    L = np.asarray(lengths, dtype=np.float64)
    rest = np.zeros((17, 3))
    x, y = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    drop, neck, head = np.deg2rad([CLAVICLE_DROP_DEG, NECK_PITCH_DEG, HEAD_PITCH_DEG])
    sides = ((1.0, (4, 5, 6, 11, 12, 13)), (-1.0, (1, 2, 3, 14, 15, 16)))
    for side, (hip, knee, ankle, shoulder, elbow, wrist) in sides:
        rest[hip] = side * L[hip] * x
        rest[knee] = rest[hip] - L[knee] * y
        rest[ankle] = rest[knee] - L[ankle] * y
        rest[shoulder] = np.array([side * np.cos(drop), -np.sin(drop), 0.0]) * L[shoulder]  # from the thorax
        rest[elbow] = rest[shoulder] + side * L[elbow] * x
        rest[wrist] = rest[elbow] + side * L[wrist] * x
    rest[7] = L[7] * y
    rest[8] = rest[7] + L[8] * y
    for point in (11, 12, 13, 14, 15, 16):
        rest[point] += rest[8]
    rest[9] = rest[8] + L[9] * np.array([0.0, np.cos(neck), np.sin(neck)])
    rest[10] = rest[9] + L[10] * np.array([0.0, np.cos(head), np.sin(head)])
    return rest


def build_rig(lengths: np.ndarray, naming: str = "humanoid") -> Rig:
    """The rig (offsets, end sites, rest pose) for bone lengths (17,) metres, in a naming scheme of NAMINGS."""
    if naming not in NAMINGS:
        raise InputError(None, f"unknown naming {naming!r}; choose one of {', '.join(NAMINGS)}")
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.shape != (17,):
        raise InputError(None, f"expected 17 bone lengths, found shape {lengths.shape}")
    rest = rest_pose(lengths)
    offsets = np.zeros((len(JOINTS), 3))
    end_sites = np.full((len(JOINTS), 3), np.nan)
    for j, spec in enumerate(JOINTS):
        if spec.parent >= 0:
            offsets[j] = rest[spec.point] - rest[JOINTS[spec.parent].point]
        if spec.rule in ("leaf", "foot"):
            parent_point = JOINTS[spec.parent].point
            along = _unit(rest[spec.point] - rest[parent_point])
            if spec.rule == "foot":
                # Sole under the ankle, toes forward: the end site touches the floor in the rest pose.
                height = ANKLE_HEIGHT_PER_LEG * (lengths[2] + lengths[3])
                end_sites[j] = np.array([0.0, -height, FOOT_PER_SHIN * lengths[spec.point]])
            elif spec.point == 10:
                end_sites[j] = HEAD_END_PER_HEAD * lengths[10] * along
            else:
                end_sites[j] = HAND_PER_FOREARM * lengths[spec.point] * along
    return Rig(naming=naming, lengths=lengths, rest=rest, offsets=offsets, end_sites=end_sites)


def _directions(vectors: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Unit directions (T, 3); a zero vector takes the previous frame's direction (the fallback at frame 0)."""
    norms = np.linalg.norm(vectors, axis=-1)
    ok = norms > 1e-9
    out = np.empty_like(vectors)
    out[ok] = vectors[ok] / norms[ok, None]
    if not ok.all():
        last = np.asarray(fallback, dtype=np.float64)
        for t in np.flatnonzero(~ok):
            out[t] = out[t - 1] if t > 0 else last
    return out


def retarget(joints: np.ndarray, lengths: np.ndarray, rest: np.ndarray | None = None) -> np.ndarray:
    """Joints (T, 17, 3) rebuilt with fixed bone lengths (17,): each bone keeps its observed direction.

    The pelvis stays where it is. The two hips sit on the observed left-right hip axis at equal distances
    from the pelvis (a rigid pelvis). Returns (T, 17, 3) in the input's frame and units.
    """
    joints = _check_joints(joints)
    lengths = np.asarray(lengths, dtype=np.float64)
    rest = rest_pose(lengths) if rest is None else rest
    out = np.empty_like(joints)
    out[:, 0] = joints[:, 0]
    hip_axis = _directions(joints[:, 4] - joints[:, 1], np.array([1.0, 0.0, 0.0]))
    out[:, 4] = out[:, 0] + lengths[4] * hip_axis
    out[:, 1] = out[:, 0] - lengths[1] * hip_axis
    for child in range(2, 17):
        if child == 4:
            continue
        parent = H36M_PARENTS[child]
        d = _directions(joints[:, child] - joints[:, parent], rest[child] - rest[parent])
        out[:, child] = out[:, parent] + lengths[child] * d
    return out
