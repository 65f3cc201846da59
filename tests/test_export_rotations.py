"""Quaternions, joint rotations solved from positions, and continuous Euler angles."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.errors import InputError
from poselift.export.rig import JOINTS, STANDARD_LENGTHS, build_rig, rest_pose, retarget
from poselift.export.rotations import forward_kinematics, solve_rotations
from poselift.geometry import quaternions as quat
from poselift.geometry.euler import EULER_ORDERS, continuous_euler, euler_to_matrix, matrix_to_euler


def reference_euler_to_matrix(angles, order):
    """Intrinsic Euler angles composed independently, by quaternions: q_1 * q_2 * q_3 as a matrix."""
    turns = [
        quat.from_axis_angle(np.broadcast_to(np.eye(3)["XYZ".index(axis)], angles.shape), np.deg2rad(angles[..., n]))
        for n, axis in enumerate(order)
    ]
    return quat.to_matrix(quat.multiply(quat.multiply(turns[0], turns[1]), turns[2]))


def random_quaternions(rng, n):
    return quat.normalize(rng.normal(size=(n, 4)))


def test_quaternion_matrix_round_trip_and_products(rng):
    q = random_quaternions(rng, 200)
    m = quat.to_matrix(q)
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0)
    back = quat.from_matrix(m)
    np.testing.assert_allclose(np.abs(np.sum(back * q, axis=-1)), 1.0, atol=1e-12)  # q and -q are one rotation
    v = rng.normal(size=(200, 3))
    np.testing.assert_allclose(quat.rotate(q, v), np.einsum("nij,nj->ni", m, v), atol=1e-12)
    p = random_quaternions(rng, 200)
    np.testing.assert_allclose(quat.to_matrix(quat.multiply(q, p)), m @ quat.to_matrix(p), atol=1e-12)
    np.testing.assert_allclose(quat.multiply(q, quat.conjugate(q)), np.tile(quat.IDENTITY, (200, 1)), atol=1e-12)
    axis, angle = quat.to_axis_angle(q)
    np.testing.assert_allclose(quat.to_matrix(quat.from_axis_angle(axis, angle)), m, atol=1e-12)
    np.testing.assert_allclose(quat.cross(v, v[::-1]), np.cross(v, v[::-1]))


def test_quaternion_from_matrix_near_180_degrees():
    q = quat.from_axis_angle(np.array([[0.0, 0.6, 0.8], [1.0, 0.0, 0.0]]), np.array([np.pi, np.pi - 1e-9]))
    back = quat.from_matrix(quat.to_matrix(q))
    np.testing.assert_allclose(np.abs(np.sum(back * q, axis=-1)), 1.0, atol=1e-9)


def test_between_takes_one_direction_to_another(rng):
    u, v = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    u[0], v[0] = [1.0, 0, 0], [-2.0, 0, 0]  # opposite directions
    q = quat.between(u, v)
    got = quat.rotate(q, u / np.linalg.norm(u, axis=-1, keepdims=True))
    np.testing.assert_allclose(got, v / np.linalg.norm(v, axis=-1, keepdims=True), atol=1e-12)
    # The smallest rotation: its angle is the angle between the directions.
    cos = np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
    np.testing.assert_allclose(quat.to_axis_angle(q)[1], np.arccos(np.clip(cos, -1, 1)), atol=1e-7)


def test_make_continuous_removes_sign_flips(rng):
    q = quat.from_axis_angle(np.broadcast_to([0.0, 0.0, 1.0], (50, 3)), np.linspace(0, 4 * np.pi, 50))
    q[::3] *= -1
    smooth = quat.make_continuous(q)
    assert (np.sum(smooth[1:] * smooth[:-1], axis=-1) > 0).all()


@pytest.mark.parametrize("order", EULER_ORDERS)
def test_euler_round_trip_against_the_bvh_reader(rng, order):
    m = quat.to_matrix(random_quaternions(rng, 300))
    angles = matrix_to_euler(m, order)
    assert np.abs(angles[:, 1]).max() <= 90 + 1e-9 and np.abs(angles).max() <= 180 + 1e-9
    # Independent check: quaternions compose the angles back to the same matrices.
    np.testing.assert_allclose(reference_euler_to_matrix(angles, order), m, atol=1e-10)
    np.testing.assert_allclose(euler_to_matrix(angles, order), m, atol=1e-10)


@pytest.mark.parametrize("order", EULER_ORDERS)
def test_euler_at_gimbal_lock(order):
    angles = np.array([[30.0, 90.0, 20.0], [10.0, -90.0, -50.0]])
    m = euler_to_matrix(angles, order)
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler(m, order), order), m, atol=1e-7)


@pytest.mark.parametrize("order", EULER_ORDERS)
def test_continuous_euler_unwraps_and_picks_the_nearest_solution(order):
    t = np.linspace(0, 1, 200)
    # Spin 2.5 turns about the first axis while wobbling the others: angles must go past 180 smoothly.
    angles = np.stack([900 * t, 40 * np.sin(6 * t), 30 * np.cos(5 * t)], axis=-1)
    m = euler_to_matrix(angles, order)
    got = continuous_euler(m[:, None], order)[:, 0]
    np.testing.assert_allclose(euler_to_matrix(got, order), m, atol=1e-9)
    assert np.abs(np.diff(got, axis=0)).max() < 10
    np.testing.assert_allclose(got, angles, atol=1e-6)  # the generating angles are the continuous solution
    with pytest.raises(InputError, match="order"):
        continuous_euler(m, "XYX")


def posed(rng, frames=30, noise=0.0):
    rest = rest_pose(STANDARD_LENGTHS)
    joints = rest + rng.normal(scale=0.08, size=(frames, 17, 3)) + rng.normal(scale=noise, size=(frames, 17, 3))
    return retarget(joints, STANDARD_LENGTHS)


def test_forward_kinematics_reproduces_every_point(rng):
    rig = build_rig(STANDARD_LENGTHS)
    joints = posed(rng)
    world, local = solve_rotations(rig, joints)
    positions = forward_kinematics(rig, joints[:, 0], local)
    np.testing.assert_allclose(positions, joints[:, rig.points], atol=1e-9)
    # World rotations are proper rotations, and local = parent^T world.
    np.testing.assert_allclose(np.linalg.det(world), 1.0, atol=1e-9)
    np.testing.assert_allclose(world[:, 3], world[:, 2] @ local[:, 3], atol=1e-12)


def test_rest_pose_gives_identity_rotations():
    rig = build_rig(STANDARD_LENGTHS)
    _, local = solve_rotations(rig, rig.rest[None])
    np.testing.assert_allclose(local[0], np.broadcast_to(np.eye(3), local[0].shape), atol=1e-9)


def test_knee_bends_about_its_hinge_and_thigh_twist_follows_the_bend_plane():
    rig = build_rig(STANDARD_LENGTHS)
    rest = rig.rest
    angles = np.deg2rad([30.0, 60.0, 90.0])
    joints = np.repeat(rest[None], len(angles), axis=0)
    for k, angle in enumerate(angles):
        # Left knee bends backwards by `angle`, and the whole leg turns 40 degrees outwards about the vertical.
        shin = STANDARD_LENGTHS[6] * np.array([0.0, -np.cos(angle), -np.sin(angle)])
        turn = quat.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.deg2rad(40.0))
        joints[k, 6] = joints[k, 5] + quat.rotate(turn, shin)
    _, local = solve_rotations(rig, joints)
    thigh, knee = JOINTS.index(next(s for s in JOINTS if s.humanoid == "LeftUpperLeg")), 15
    axis, angle = quat.to_axis_angle(quat.from_matrix(local[:, knee]))
    np.testing.assert_allclose(np.abs(axis[:, 0]), 1.0, atol=1e-9)  # a pure hinge about the local X axis
    np.testing.assert_allclose(angle, angles, atol=1e-9)
    # The thigh took the 40-degree turn as twist about its own (vertical) bone.
    t_axis, t_angle = quat.to_axis_angle(quat.from_matrix(local[:, thigh]))
    np.testing.assert_allclose(np.abs(t_axis[:, 1]), 1.0, atol=1e-9)
    np.testing.assert_allclose(t_angle, np.deg2rad(40.0), atol=1e-9)


def test_a_straight_noisy_leg_does_not_flip_its_twist(rng):
    rig = build_rig(STANDARD_LENGTHS)
    joints = retarget(rig.rest + rng.normal(scale=0.004, size=(200, 17, 3)), STANDARD_LENGTHS)
    _, local = solve_rotations(rig, joints)
    q = quat.from_matrix(local)
    steps = np.rad2deg(quat.angle_between(q[1:], q[:-1]))
    legs = [j for j, s in enumerate(JOINTS) if "Leg" in s.humanoid or "Arm" in s.humanoid]
    assert steps[:, legs].max() < 30


def test_streaming_in_pieces_matches_the_whole_clip(rng):
    rig = build_rig(STANDARD_LENGTHS)
    joints = posed(rng, 40, noise=0.02)
    _, whole = solve_rotations(rig, joints)
    state: dict[int, float] = {}
    pieces = [solve_rotations(rig, joints[t : t + 1], state)[1] for t in range(len(joints))]
    np.testing.assert_allclose(np.concatenate(pieces), whole, atol=1e-9)


def test_bad_joints_shape():
    with pytest.raises(InputError, match=r"\(T, 17, 3\)"):
        solve_rotations(build_rig(STANDARD_LENGTHS), np.zeros((3, 17, 2)))
