"""Joint rotations of the rig solved from joint positions, and the rig's forward kinematics.

Each rig joint's world rotation takes its rest-pose bone direction to the observed one (so forward
kinematics with the rig's offsets reproduces every point exactly). The twist about that bone, which
positions alone leave open, comes from neighbouring points where the 17 points allow it:
- Hips: the left-right hip axis, twisted so the spine points up the pelvis frame;
- Chest (and Head): the spine -> thorax (neck -> head top) bone, twisted to follow the shoulder line;
- upper arms and upper legs: twisted so the elbow (knee) bends in the plane of the three points; a nearly
  straight limb fades smoothly into the swing-only twist, and a slightly bent one may be read as slightly
  over-straightened (noise, a locked knee) when that keeps the twist continuous, so it never flips by 180;
- feet: flat on the floor, facing where the hips face (there is no toe point);
- hands and the top of the head: turn with their parent;
- everything else: swing only (the smallest rotation from the parent's frame).

Rotation matrices act on column vectors; a joint's local rotation is parent_world^T @ world. Quaternions,
Euler angles and forward kinematics themselves are `poselift.geometry`'s.
"""

from __future__ import annotations

import numpy as np

from poselift.errors import InputError
from poselift.export.rig import JOINTS, Rig
from poselift.geometry import kinematics
from poselift.geometry import quaternions as quat
from poselift.geometry.frames import orthonormal_frames, unit

BEND_MIN, BEND_FULL = np.sin(np.deg2rad(6.0)), np.sin(np.deg2rad(20.0))
"""Sines of the bend angles below which a limb's bend plane is ignored, and above which it sets the twist."""

FOLD_WEIGHT = 0.5
"""Below this bend weight (a bend of about 13 degrees) a limb may be read as over-straightened."""

LIMB_BEND = {"arm": np.array([0.0, 0.0, 1.0]), "leg": np.array([0.0, 0.0, -1.0])}
"""Rest-pose direction in which each limb's lower bone bends: forearms forward, shins backward."""


def aim_rotation(aim0: np.ndarray, ref0: np.ndarray, aim: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """The rotation (..., 3, 3) taking rest direction aim0 to aim exactly, and rest reference ref0 (any
    vector not parallel to aim0) into the half-plane of ref about the aim: a bone direction plus its twist."""
    f0 = orthonormal_frames(np.broadcast_to(aim0, np.shape(aim)), np.broadcast_to(ref0, np.shape(aim)))
    return orthonormal_frames(aim, ref) @ np.swapaxes(f0, -1, -2)


def swing_rotation(parent_world: np.ndarray, aim0: np.ndarray, aim: np.ndarray) -> np.ndarray:
    """World rotations (..., 3, 3) = parent @ the smallest rotation taking aim0 to aim seen in the parent frame."""
    local_aim = np.einsum("...ji,...j->...i", parent_world, aim)
    local = quat.to_matrix(quat.between(np.broadcast_to(aim0, local_aim.shape), local_aim))
    return parent_world @ local


def _heading(world: np.ndarray) -> np.ndarray:
    """Rotations about +Y (..., 3, 3) facing the horizontal part of each frame's +Z axis."""
    forward = world[..., :, 2].copy()
    forward[..., 1] = 0.0
    flat = np.linalg.norm(forward, axis=-1) < 1e-6
    forward[flat] = np.array([0.0, 0.0, 1.0])
    angle = np.arctan2(forward[..., 0], forward[..., 2])
    return quat.to_matrix(quat.from_axis_angle(np.broadcast_to([0.0, 1.0, 0.0], forward.shape), angle))


def _bend_reference(
    aim: np.ndarray, bend: np.ndarray, swing_ref: np.ndarray, previous: float = 0.0
) -> tuple[np.ndarray, float]:
    """Twist reference vectors (T, 3) for an upper limb bone from its bend-plane normals (T, 3), and the
    last frame's twist (radians; pass it back as `previous` to continue a stream frame by frame).

    psi, the angle of the bend normal about the bone measured from the swing frame's normal, sets the twist.
    It is weighted by how bent the limb is (nothing below BEND_MIN, all of it above BEND_FULL), so the twist
    fades into the swing-only twist as the limb straightens. While the limb is only slightly bent, the normal
    may be read the other way round (psi +- 180: an elbow or knee over-straightened by noise, or a locked
    knee), whichever keeps the twist closest to the previous frame's: the twist does not flip by 180 degrees.
    """
    a = unit(aim)
    s = unit(swing_ref - np.sum(swing_ref * a, axis=-1, keepdims=True) * a)
    u = quat.cross(a, s)
    psi_raw = np.arctan2(np.sum(bend * u, axis=-1), np.sum(bend * s, axis=-1))
    sine = np.linalg.norm(bend, axis=-1)
    weight = np.clip((sine - BEND_MIN) / (BEND_FULL - BEND_MIN), 0.0, 1.0)
    weight = weight * weight * (3.0 - 2.0 * weight)  # smoothstep
    twist = np.empty_like(psi_raw)
    for t, (raw, w) in enumerate(zip(psi_raw.tolist(), weight.tolist(), strict=True)):
        if w < FOLD_WEIGHT:
            flipped = raw - np.pi if raw > 0 else raw + np.pi
            if abs(_wrap(w * flipped - previous)) < abs(_wrap(w * raw - previous)):
                raw = flipped
        twist[t] = previous = w * raw
    return np.cos(twist)[:, None] * s + np.sin(twist)[:, None] * u, previous


def _wrap(angle: float) -> float:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def solve_rotations(
    rig: Rig, joints: np.ndarray, state: dict[int, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """World and local rotations (T, J, 3, 3) of every rig joint from joint positions (T, 17, 3).

    `joints` should be in the rig's frame (Y up, metres) and already have the rig's bone lengths
    (`retarget`); then forward kinematics of the rig with these rotations gives back `joints`. `state`:
    a dict kept between calls when solving a stream in pieces (frame by frame), so limb twists stay
    continuous across calls; it is updated in place.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (17, 3):
        raise InputError(None, f"expected joints of shape (T, 17, 3), found {joints.shape}")
    num_frames = joints.shape[0]
    world = np.empty((num_frames, len(JOINTS), 3, 3))
    x, y = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    shoulder_line = joints[:, 11] - joints[:, 14]
    for j, spec in enumerate(JOINTS):
        parent = world[:, spec.parent] if spec.parent >= 0 else None
        if spec.rule == "hips":
            world[:, j] = aim_rotation(x, y, joints[:, 4] - joints[:, 1], joints[:, 7] - joints[:, 0])
            continue
        if spec.rule == "leaf":
            world[:, j] = parent
            continue
        if spec.rule == "foot":
            world[:, j] = _heading(world[:, 0])
            continue
        aim0 = rig.rest_direction(j)
        aim = joints[:, spec.aim] - joints[:, spec.point]
        swing = swing_rotation(parent, aim0, aim)
        if spec.rule == "swing":
            world[:, j] = swing
        elif spec.rule == "shoulders":
            # Twist follows the shoulder line; a small share of the swing frame keeps it defined when the
            # shoulder line is parallel to the bone.
            ref = shoulder_line + 0.05 * np.linalg.norm(shoulder_line, axis=-1, keepdims=True) * (swing @ x)
            world[:, j] = aim_rotation(aim0, x, aim, ref)
        elif spec.rule == "bend":
            limb = "arm" if spec.point in (11, 14) else "leg"
            ref0 = quat.cross(aim0, LIMB_BEND[limb])
            lower = joints[:, spec.bend_point] - joints[:, spec.aim]
            bend = quat.cross(unit(aim), unit(lower))  # length = sine of the bend angle
            previous = 0.0 if state is None else state.get(j, 0.0)
            ref, last = _bend_reference(aim, bend, swing @ ref0, previous)
            if state is not None:
                state[j] = last
            world[:, j] = aim_rotation(aim0, ref0, aim, ref)
        else:
            raise ValueError(f"unknown rule {spec.rule!r}")
    local = world.copy()
    for j, spec in enumerate(JOINTS):
        if spec.parent >= 0:
            local[:, j] = np.swapaxes(world[:, spec.parent], -1, -2) @ world[:, j]
    return world, local


def forward_kinematics(rig: Rig, root: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Positions (T, J, 3) of the rig's joints from root positions (T, 3) and local rotations (T, J, 3, 3)."""
    parents = [spec.parent for spec in JOINTS]
    translations = np.array(np.broadcast_to(rig.offsets, (local.shape[0], len(JOINTS), 3)), dtype=np.float64)
    translations[:, [j for j, parent in enumerate(parents) if parent < 0]] = np.asarray(root)[:, None]
    return kinematics.forward_kinematics(parents, local, translations)[0]
