"""The animation rig: fixed bone lengths, the documented rest pose, retargeting that keeps bone directions."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.errors import InputError
from poselift.export.rig import (
    JOINTS,
    NAMINGS,
    POINT_JOINT,
    STANDARD_LENGTHS,
    SYMMETRIC_BONES,
    build_rig,
    rest_pose,
    retarget,
    symmetric_bone_lengths,
)
from poselift.skeleton import H36M17

PARENTS = np.array(H36M17.parents)


def noisy_clip(rng: np.random.Generator, frames: int = 60) -> np.ndarray:
    """Rest-pose joints jittered per frame and moved around: (T, 17, 3) metres."""
    base = rest_pose(STANDARD_LENGTHS)
    clip = base + rng.normal(scale=0.01, size=(frames, 17, 3))
    return clip + rng.normal(scale=0.5, size=(frames, 1, 3))


def lengths_of(joints: np.ndarray) -> np.ndarray:
    child = np.arange(1, 17)
    return np.linalg.norm(joints[..., child, :] - joints[..., PARENTS[child], :], axis=-1)


def test_bone_lengths_are_medians_made_symmetric(rng):
    clip = noisy_clip(rng)
    clip[5] *= 3.0  # one wild frame must not move a median
    lengths = symmetric_bone_lengths(clip)
    assert lengths[0] == 0
    for right, left in SYMMETRIC_BONES:
        assert lengths[right] == lengths[left]
    np.testing.assert_allclose(lengths, STANDARD_LENGTHS, atol=0.02)


def test_bone_lengths_rejects_bad_input():
    with pytest.raises(InputError, match=r"\(T, 17, 3\)"):
        symmetric_bone_lengths(np.zeros((4, 16, 3)))
    with pytest.raises(InputError, match="NaN"):
        symmetric_bone_lengths(np.full((4, 17, 3), np.nan))
    with pytest.raises(InputError, match="zero length"):
        symmetric_bone_lengths(np.zeros((4, 17, 3)))


def test_rest_pose_axes_y_up_facing_plus_z_left_is_plus_x():
    rest = rest_pose(STANDARD_LENGTHS)
    names = H36M17.joint_names
    at = {name: rest[i] for i, name in enumerate(names)}
    assert at["head"][1] > at["thorax"][1] > at["pelvis"][1] > at["left_knee"][1] > at["left_ankle"][1]
    assert at["left_hip"][0] > 0 > at["right_hip"][0]
    assert at["left_wrist"][0] > at["left_elbow"][0] > at["left_shoulder"][0] > 0  # T-pose: arms along +-X
    np.testing.assert_allclose(at["left_wrist"][1], at["left_shoulder"][1])
    assert at["neck"][2] > at["thorax"][2]  # the nose point is in front: the character faces +Z
    np.testing.assert_allclose(lengths_of(rest), STANDARD_LENGTHS[1:])


def test_retarget_keeps_directions_with_fixed_lengths(rng):
    clip = noisy_clip(rng)
    lengths = symmetric_bone_lengths(clip)
    out = retarget(clip, lengths)
    np.testing.assert_allclose(lengths_of(out), np.broadcast_to(lengths[1:], (len(clip), 16)), atol=1e-9)
    np.testing.assert_allclose(out[:, 0], clip[:, 0])
    for child in range(2, 17):
        if child == 4:
            continue
        a = clip[:, child] - clip[:, PARENTS[child]]
        b = out[:, child] - out[:, PARENTS[child]]
        cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert cos.min() > 1 - 1e-9
    # The hips: one rigid segment through the pelvis, along the observed hip axis.
    np.testing.assert_allclose(out[:, 1] + out[:, 4], 2 * out[:, 0], atol=1e-12)
    axis = clip[:, 4] - clip[:, 1]
    got = out[:, 4] - out[:, 1]
    cos = np.sum(axis * got, -1) / np.linalg.norm(axis, axis=-1) / np.linalg.norm(got, axis=-1)
    assert cos.min() > 1 - 1e-9


def test_retarget_survives_a_collapsed_bone(rng):
    clip = noisy_clip(rng, 5)
    clip[2, 13] = clip[2, 12]  # wrist on the elbow: the direction falls back to the previous frame's
    out = retarget(clip, STANDARD_LENGTHS)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[2, 13] - out[2, 12], out[1, 13] - out[1, 12] + 0, atol=1e-9)


@pytest.mark.parametrize("naming", NAMINGS)
def test_rig_structure(naming):
    rig = build_rig(STANDARD_LENGTHS, naming)
    names = rig.names
    assert len(set(names)) == len(names) == len(JOINTS) == 20
    assert (rig.parents[1:] < np.arange(1, 20)).all() and rig.parents[0] == -1
    # Offsets are the rest pose's bones; leaves (and only leaves) have an end site.
    for j, spec in enumerate(JOINTS):
        if spec.parent >= 0:
            np.testing.assert_allclose(rig.offsets[j], rig.rest[spec.point] - rig.rest[JOINTS[spec.parent].point])
        has_children = (rig.parents == j).any()
        assert np.isnan(rig.end_sites[j]).all() == has_children
    assert sorted(rig.points[POINT_JOINT].tolist()) == list(range(17))
    if naming == "humanoid":
        for bone in ("Hips", "Spine", "Chest", "Neck", "Head", "LeftUpperLeg", "LeftLowerLeg", "LeftFoot",
                     "RightUpperArm", "RightLowerArm", "RightHand", "LeftShoulder"):
            assert bone in names
    else:
        assert set(H36M17.joint_names) <= set(names)
        assert [names[j] for j in POINT_JOINT] == list(H36M17.joint_names)


def test_build_rig_rejects_unknown_naming():
    with pytest.raises(InputError, match="naming"):
        build_rig(STANDARD_LENGTHS, "mixamo")
