"""Rotations about one axis and intrinsic Euler angles <-> rotation matrices, one implementation for all.

Rotation matrices act on column vectors. Euler angles are BVH-style intrinsic rotations in degrees: order
"ZXY" means R = Rz @ Rx @ Ry. Converting back, the middle angle lies in [-90, 90]; at gimbal lock (middle
angle +-90 degrees) the last angle is kept (0, or the previous frame's in `continuous_euler`) and the first
one takes all of the remaining rotation.
"""

from __future__ import annotations

import itertools

import numpy as np

from poselift.errors import InputError

EULER_ORDERS = tuple("".join(p) for p in itertools.permutations("XYZ"))
"""The six Tait-Bryan orders a BVH file can use ("ZXY" is the common default)."""


def check_euler_order(order: str) -> str:
    """The order in capitals, or InputError unless it is one of EULER_ORDERS."""
    order = order.upper()
    if order not in EULER_ORDERS:
        raise InputError(None, f"Euler order must be one of {', '.join(EULER_ORDERS)}, found {order!r}")
    return order


def axis_rotation(axis: str, angles_deg: np.ndarray) -> np.ndarray:
    """Rotation matrices about one axis ('X', 'Y' or 'Z') by angles in degrees. (...,) -> (..., 3, 3)."""
    a = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    axis = axis.upper()
    if axis not in ("X", "Y", "Z"):
        raise ValueError(f"axis must be X, Y or Z, got {axis!r}")
    i = "XYZ".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    c, s = np.cos(a), np.sin(a)
    out = np.zeros(a.shape + (3, 3))
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def euler_to_matrix(angles_deg: np.ndarray, order: str = "ZXY") -> np.ndarray:
    """Intrinsic Euler angles (degrees) -> rotation matrices: order "ZXY" gives Rz @ Rx @ Ry.

    angles_deg: (..., len(order)) angles in the order of `order` (any of X, Y, Z, usually three letters; a
    BVH joint may list fewer); returns (..., 3, 3).
    """
    angles = np.asarray(angles_deg, dtype=np.float64)
    if angles.shape[-1] != len(order) or not order:
        raise ValueError(f"order {order!r} needs {len(order)} angles, got shape {angles.shape}")
    out = axis_rotation(order[0], angles[..., 0])
    for k in range(1, len(order)):
        out = out @ axis_rotation(order[k], angles[..., k])
    return out


def _euler_pair(m: np.ndarray, order: str) -> tuple[np.ndarray, np.ndarray]:
    """The two Euler solutions (..., 3) radians of matrices (..., 3, 3); the first has |middle| <= 90 deg."""
    i, j, k = ("XYZ".index(a) for a in order)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # even permutations of XYZ: XYZ, YZX, ZXY
    middle = np.arcsin(np.clip(sign * m[..., i, k], -1.0, 1.0))
    first = np.arctan2(-sign * m[..., j, k], m[..., k, k])
    last = np.arctan2(-sign * m[..., i, j], m[..., i, i])
    a = np.stack([first, middle, last], axis=-1)
    b = np.stack([first + np.pi, np.pi - middle, last + np.pi], axis=-1)
    return a, b


def _fix_gimbal(m: np.ndarray, angles: np.ndarray, last_hint: np.ndarray, order: str) -> np.ndarray:
    """Where the middle angle is +-90 degrees, keep the last angle at `last_hint` and solve the first."""
    i, j, k = ("XYZ".index(a) for a in order)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    locked = np.abs(np.cos(angles[..., 1])) < 1e-6
    if not np.any(locked):
        return angles
    angles = angles.copy()
    last = last_hint
    # Remove the last two rotations: m @ R_k(-last) @ R_j(-middle) = R_i(first).
    rest = m @ axis_rotation(order[2], -np.rad2deg(last)) @ axis_rotation(order[1], -np.rad2deg(angles[..., 1]))
    first = np.arctan2(sign * rest[..., k, j], rest[..., j, j])
    angles[..., 0] = np.where(locked, first, angles[..., 0])
    angles[..., 2] = np.where(locked, last, angles[..., 2])
    return angles


def _wrap(angles: np.ndarray) -> np.ndarray:
    """Angles in radians wrapped into [-pi, pi)."""
    return (angles + np.pi) % (2 * np.pi) - np.pi


def matrix_to_euler(matrices: np.ndarray, order: str = "ZXY") -> np.ndarray:
    """Rotation matrices (..., 3, 3) -> intrinsic Euler angles (..., 3) degrees, middle angle in [-90, 90].

    The inverse of euler_to_matrix for the six orders with three distinct axes (InputError for others).
    """
    order = check_euler_order(order)
    m = np.asarray(matrices, dtype=np.float64)
    a, _ = _euler_pair(m, order)
    a = _fix_gimbal(m, a, np.zeros_like(a[..., 2]), order)
    return np.rad2deg(_wrap(a))


def _nearest(angles: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Add multiples of 2 pi to each angle to bring it closest to `previous`."""
    return angles - 2 * np.pi * np.round((angles - previous) / (2 * np.pi))


def continuous_euler(matrices: np.ndarray, order: str = "ZXY") -> np.ndarray:
    """Rotation matrices (T, ..., 3, 3) -> Euler angles (T, ..., 3) degrees, continuous over time (axis 0).

    Per frame, of the two equivalent Euler solutions (each shifted by multiples of 360 degrees) the one
    closest to the previous frame is kept, so curves have no 360-degree jumps or sudden flips. The first
    frame uses the solution with the middle angle in [-90, 90] and angles in (-180, 180].
    """
    order = check_euler_order(order)
    m = np.asarray(matrices, dtype=np.float64)
    sol_a, sol_b = _euler_pair(m, order)
    out = np.empty_like(sol_a)
    out[0] = _wrap(_fix_gimbal(m[0], sol_a[0], np.zeros_like(sol_a[0][..., 2]), order))
    for t in range(1, m.shape[0]):
        previous = out[t - 1]
        a = _nearest(_fix_gimbal(m[t], sol_a[t], previous[..., 2], order), previous)
        b = _nearest(_fix_gimbal(m[t], sol_b[t], previous[..., 2], order), previous)
        use_b = np.sum(np.abs(b - previous), axis=-1) < np.sum(np.abs(a - previous), axis=-1)
        out[t] = np.where(use_b[..., None], b, a)
    return np.rad2deg(out)
