"""Drive a body with motion: each segment turned as the matching bones of a 17-joint motion, the body's
own bone lengths kept, so any motion poselift reads (BVH through its mapping, or procedural) moves it.

A segment's rotation maps an orthonormal frame built from the body's rest joints onto the same frame built
from the motion's joints at each frame (bone direction first, a second direction for the twist), so the
rest pose maps to the identity whatever the motion's own rest pose is. Hands follow the forearms; feet stay
level, pointing where the hips face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poselift.scenes.body import Body
from poselift.scenes.segments import SEGMENT_PARENTS, SEGMENTS

UP = np.array([0.0, 1.0, 0.0])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation whose columns are: primary, secondary made orthogonal to it, their cross."""
    a = _unit(primary)
    b = _unit(secondary - (secondary * a).sum(-1, keepdims=True) * a)
    return np.stack([a, b, np.cross(a, b)], axis=-1)


def _blend(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """The rotation halfway between r1 and r2 (projected mean), (..., 3, 3)."""
    u, _, vt = np.linalg.svd(r1 + r2)
    d = np.sign(np.linalg.det(u @ vt))
    u[..., :, -1] *= d[..., None]
    return u @ vt


def segment_frames(j: np.ndarray) -> np.ndarray:
    """(T, S, 3, 3) frames of the 17 segments from Human3.6M joints (T, 17, 3), Y up."""
    hips = j[:, 4] - j[:, 1]
    shoulders = j[:, 11] - j[:, 14]
    up_pelvis = j[:, 7] - j[:, 0]
    torso = j[:, 8] - j[:, 7]
    pelvis = frame(up_pelvis, hips)
    chest = frame(torso, shoulders)
    spine = _blend(pelvis, chest)
    head_up = j[:, 10] - j[:, 8]
    face = j[:, 9] - (j[:, 8] + j[:, 10]) / 2
    head = frame(head_up, np.cross(head_up, face))
    neck = _blend(chest, head)
    chest_forward = np.cross(shoulders, torso)

    def arm(s: int, e: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        upper, fore = j[:, e] - j[:, s], j[:, w] - j[:, e]
        hinge = np.cross(upper, fore)
        weak = np.linalg.norm(hinge, axis=-1) < 0.05 * np.linalg.norm(upper, axis=-1) * np.linalg.norm(fore, axis=-1)
        fallback = np.cross(upper, chest_forward)
        hinge = np.where(weak[:, None], fallback, hinge)
        return frame(upper, hinge), frame(fore, hinge)

    upper_l, fore_l = arm(11, 12, 13)
    upper_r, fore_r = arm(14, 15, 16)
    thigh_l, shin_l = frame(j[:, 5] - j[:, 4], hips), frame(j[:, 6] - j[:, 5], hips)
    thigh_r, shin_r = frame(j[:, 2] - j[:, 1], hips), frame(j[:, 3] - j[:, 2], hips)
    forward = np.cross(hips, np.broadcast_to(UP, hips.shape))
    forward[:, 1] = 0.0
    foot = frame(np.broadcast_to(UP, hips.shape), forward)
    return np.stack([pelvis, spine, chest, neck, head, upper_l, fore_l, fore_l, upper_r, fore_r, fore_r,
                     thigh_l, shin_l, foot, thigh_r, shin_r, foot], axis=1)


@dataclass
class PosedBody:
    """A body moved by a motion: per frame, segment rotations (T, S, 3, 3) and pivot positions (T, S, 3)
    in world metres; `joints` (T, 17, 3) are the ground-truth joints."""

    body: Body
    rotations: np.ndarray
    positions: np.ndarray
    joints: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.rotations)

    def vertices(self, t: int) -> np.ndarray:
        """(V, 3) skinned vertices of frame t (linear blend skinning over the segments)."""
        b = self.body
        offsets = np.einsum("sab,sb->sa", self.rotations[t], -b.pivots) + self.positions[t]
        affine = np.concatenate([self.rotations[t], offsets[..., None]], axis=-1).reshape(len(SEGMENTS), 12)
        blended = (b.segment_weights @ affine.astype(np.float32)).reshape(-1, 3, 4)
        v = b.vertices.astype(np.float32)
        return np.einsum("vab,vb->va", blended[..., :3], v) + blended[..., 3]


def pose_body(body: Body, motion: np.ndarray) -> PosedBody:
    """Move `body` with a motion of Human3.6M joints (T, 17, 3), world metres, Y up, floor at y = 0.

    The pelvis follows the motion's, scaled by the ratio of leg lengths (so strides fit the body's legs);
    the body then rests on the floor: its lowest sole point over the clip's quieter frames is at y = 0.
    """
    rest = segment_frames(body.joints[None])[0]
    rotations = segment_frames(motion) @ np.swapaxes(rest, -1, -2)[None]
    scale = _leg_length(body.joints) / np.median(_leg_length(motion))
    positions = np.empty((len(motion), len(SEGMENTS), 3))
    positions[:, 0] = motion[:, 0] * scale
    for s, parent in enumerate(SEGMENT_PARENTS):
        if parent >= 0:
            positions[:, s] = positions[:, parent] + rotations[:, parent] @ (body.pivots[s] - body.pivots[parent])
    seg = body.joint_segments
    joints = np.einsum("tjab,jb->tja", rotations[:, seg], body.joints - body.pivots[seg]) + positions[:, seg]
    posed = PosedBody(body, rotations, positions, joints)
    soles = np.array([_lowest_sole(posed, t) for t in range(len(motion))])
    lift = -np.percentile(soles, 10)
    posed.positions[..., 1] += lift
    posed.joints[..., 1] += lift
    return posed


def _leg_length(joints: np.ndarray) -> np.ndarray:
    """Right thigh plus shin length of Human3.6M joints (..., 17, 3)."""
    return (np.linalg.norm(joints[..., 1, :] - joints[..., 2, :], axis=-1)
            + np.linalg.norm(joints[..., 2, :] - joints[..., 3, :], axis=-1))


def _lowest_sole(posed: PosedBody, t: int) -> float:
    """Height of the lowest foot point of frame t (the feet are rigid: their rest vertices moved)."""
    b = posed.body
    feet = [SEGMENTS.index("foot_l"), SEGMENTS.index("foot_r")]
    lowest = np.inf
    for s in feet:
        v = b.vertices[b.vertex_segment == s]
        y = (v - b.pivots[s]) @ posed.rotations[t, s][1] + posed.positions[t, s, 1]
        lowest = min(lowest, float(y.min()))
    return lowest
