"""Quaternion utilities, vectorised with numpy over any leading shape.

Convention: a quaternion is an array (..., 4) ordered (w, x, y, z), unit length, acting on column vectors
like the rotation matrix it stands for (`to_matrix(q) @ v == rotate(q, v)`); `multiply(a, b)` applies b
first, then a (as `A @ B`). Protocols that want (x, y, z, w) (VMC, Unity, three.js) convert at the edge.
"""

from __future__ import annotations

import numpy as np

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])
"""The identity rotation (w, x, y, z)."""


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross products of vectors (..., 3) (np.cross without its overhead, which dominates on small arrays)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], axis=-1)


def normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4); a zero quaternion becomes the identity."""
    q = np.asarray(q, dtype=np.float64)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(norm > 1e-12, q / np.maximum(norm, 1e-12), IDENTITY)


def conjugate(q: np.ndarray) -> np.ndarray:
    """The inverse of unit quaternions (..., 4): (w, -x, -y, -z)."""
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b (..., 4): the rotation b followed by a."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4)."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * cross(u, v)
    return v + w * t + cross(u, t)


def from_axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotations of `angle` radians (...,) about `axis` (..., 3) (normalised here) -> (..., 4)."""
    axis = np.asarray(axis, dtype=np.float64)
    angle = np.asarray(angle, dtype=np.float64)
    norm = np.linalg.norm(axis, axis=-1, keepdims=True)
    unit = axis / np.maximum(norm, 1e-12)
    half = 0.5 * angle[..., None]
    return np.concatenate([np.cos(half), np.sin(half) * unit], axis=-1)


def to_axis_angle(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit quaternions (..., 4) -> (axis (..., 3) unit, angle (...,) radians in [0, pi])."""
    q = normalize(q)
    q = np.where(q[..., :1] < 0, -q, q)
    sin_half = np.linalg.norm(q[..., 1:], axis=-1)
    angle = 2.0 * np.arctan2(sin_half, q[..., 0])
    axis = np.where(sin_half[..., None] > 1e-12, q[..., 1:] / np.maximum(sin_half, 1e-12)[..., None],
                    np.array([1.0, 0.0, 0.0]))
    return axis, angle


def to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (..., 4) -> rotation matrices (..., 3, 3)."""
    w, x, y, z = np.moveaxis(normalize(q), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=-2,
    )


def from_matrix(m: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> unit quaternions (..., 4) with w >= 0.

    Picks, per matrix, the largest of 4w^2, 4x^2, 4y^2, 4z^2 to divide by, so it stays accurate for any angle.
    """
    m = np.asarray(m, dtype=np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    candidates = np.stack(
        [
            np.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                      m[..., 1, 0] - m[..., 0, 1]], axis=-1),
            np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0],
                      m[..., 0, 2] + m[..., 2, 0]], axis=-1),
            np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22,
                      m[..., 1, 2] + m[..., 2, 1]], axis=-1),
            np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1],
                      1 - m00 - m11 + m22], axis=-1),
        ],
        axis=-2,
    )  # (..., 4 candidates, 4): candidate k has its k-th component equal to 4 q_k^2
    best = np.argmax(np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22,
                               1 - m00 - m11 + m22], axis=-1), axis=-1)
    q = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    q = normalize(q)
    return np.where(q[..., :1] < 0, -q, q)


def between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction u to direction v (both (..., 3), any length) -> (..., 4).

    For opposite directions the rotation is 180 degrees about an axis perpendicular to u.
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    u = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)
    v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
    dot = np.sum(u * v, axis=-1, keepdims=True)
    q = np.concatenate([1.0 + dot, cross(u, v)], axis=-1)
    opposite = (dot[..., 0] < -1.0 + 1e-9)
    if np.any(opposite):
        # Any axis perpendicular to u: cross with the coordinate axis least aligned with u.
        pick = np.argmin(np.abs(u), axis=-1)
        helper = np.eye(3)[pick]
        axis = cross(u, helper)
        q = np.where(opposite[..., None], np.concatenate([np.zeros_like(dot), axis], axis=-1), q)
    return normalize(q)


def make_continuous(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along `axis` (time) so consecutive quaternions lie in the same hemisphere (q and -q are
    the same rotation); keeps interpolation and filtering of quaternion streams free of jumps."""
    q = np.moveaxis(np.array(q, dtype=np.float64), axis, 0)
    for t in range(1, q.shape[0]):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0
        q[t][flip] *= -1
    return np.moveaxis(q, 0, axis)


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in radians (...,) of the rotation taking a to b (unit quaternions (..., 4))."""
    dot = np.abs(np.sum(normalize(a) * normalize(b), axis=-1))
    return 2.0 * np.arccos(np.clip(dot, -1.0, 1.0))
