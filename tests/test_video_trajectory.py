"""Global trajectory and floor on a synthetic walk seen by a known camera."""

from __future__ import annotations

import math

import numpy as np
import pytest

from poselift.video.synthetic import synthesize_walk
from poselift.video.trajectory import (
    ANKLE_HEIGHT,
    default_focal,
    fit_ground,
    fit_ground_people,
    ground_feet,
    project,
    smooth_trajectory,
    solve_root,
    solve_trajectory,
)


@pytest.fixture(scope="module")
def clip():
    return synthesize_walk(seconds=4.0)


def test_default_focal_from_field_of_view():
    assert default_focal(640, 60) == pytest.approx(320 / math.tan(math.radians(30)))


def test_exact_keypoints_give_the_exact_root(clip):
    relative = clip.poses_camera - clip.poses_camera[:, :1]
    trajectory = solve_trajectory(relative, clip.keypoints_2d, np.ones((len(relative), 17)), clip.focal, clip.centre)
    np.testing.assert_allclose(trajectory, clip.poses_camera[:, 0], atol=1e-6)
    np.testing.assert_allclose(project(clip.poses_camera, clip.focal, clip.centre), clip.keypoints_2d, atol=1e-9)


def test_noisy_poses_and_keypoints_give_a_close_smooth_trajectory(clip, rng):
    relative = clip.poses_camera - clip.poses_camera[:, :1]
    noisy_pose = relative + rng.normal(0, 0.02, relative.shape)
    noisy_pose -= noisy_pose[:, :1]
    noisy_2d = clip.keypoints_2d + rng.normal(0, 2.0, clip.keypoints_2d.shape)
    raw = solve_trajectory(noisy_pose, noisy_2d, np.ones((len(relative), 17)), clip.focal, clip.centre)
    smooth = smooth_trajectory(raw, clip.fps)
    truth = clip.poses_camera[:, 0]
    raw_error = np.linalg.norm(raw - truth, axis=1).mean()
    smooth_error = np.linalg.norm(smooth - truth, axis=1).mean()
    assert smooth_error < 0.05  # metres, at 4-7 m from the camera
    assert smooth_error < raw_error


def test_unseen_frames_are_filled_from_their_neighbours(clip):
    truth = clip.poses_camera[:, 0].copy()
    holes = truth.copy()
    holes[40:45] = np.nan
    filled = smooth_trajectory(holes, clip.fps, position_sigma=0, depth_sigma=0)
    assert np.isfinite(filled).all()
    assert np.linalg.norm(filled[40:45] - truth[40:45], axis=1).max() < 0.05


def test_too_few_joints_give_nan():
    assert np.isnan(solve_root(np.zeros((17, 3)), np.zeros((17, 2)), np.r_[1.0, 1.0, np.zeros(15)], 500,
                               np.zeros(2))).all()


def test_floor_and_world_frame_match_the_truth(clip):
    ground = fit_ground(clip.poses_camera, np.ones((len(clip.times), 17)), np.ones(len(clip.times), bool),
                        clip.fps)
    assert ground.method == "floor plane"
    true_up = clip.camera_rotation @ np.array([0.0, 1.0, 0.0])  # world Y in camera coordinates
    assert math.degrees(math.acos(np.clip(ground.up @ true_up, -1, 1))) < 1.0
    world = ground.to_world(clip.poses_camera)
    np.testing.assert_allclose(world[..., 1], clip.poses_world[..., 1], atol=0.01)  # heights above the floor
    assert np.linalg.det(ground.rotation) == pytest.approx(1.0)
    assert ground.camera_position()[1] == pytest.approx(clip.camera_position[1], abs=0.02)
    lowest = world[:, [3, 6], 1].min(axis=1)
    assert np.median(lowest) == pytest.approx(ANKLE_HEIGHT, abs=0.01)  # feet on the floor
    np.testing.assert_allclose(ground.matrix()[:3, :3], ground.rotation)


def test_half_body_falls_back_to_the_camera_up(clip):
    confidence = np.ones((len(clip.times), 17))
    confidence[:, [2, 3, 5, 6]] = 0  # legs never seen
    ground = fit_ground(clip.poses_camera, confidence, np.ones(len(clip.times), bool), clip.fps)
    assert ground.method == "camera up" and ground.contacts == 0
    np.testing.assert_allclose(ground.up, [0, -1, 0])


def test_one_floor_from_several_people_ignores_unseen_legs(clip):
    count = len(clip.times)
    half = count // 2
    first, second = np.full((count, 17, 3), np.nan), np.full((count, 17, 3), np.nan)
    first[:half], second[half:] = clip.poses_camera[:half], clip.poses_camera[half:]
    valid_a, valid_b = np.arange(count) < half, np.arange(count) >= half
    conf_a, conf_b = np.ones((count, 17)) * valid_a[:, None], np.ones((count, 17)) * valid_b[:, None]
    # The second person's legs leave the picture for a while: synthesised ankles far below must not matter.
    cut = slice(half, half + 30)
    second[cut, [2, 3, 5, 6], 1] += 0.5
    conf_b[cut, [2, 3, 5, 6]] = 0
    ground = fit_ground_people([(first, conf_a, valid_a), (second, conf_b, valid_b)], clip.fps)
    world = ground.to_world(np.where(np.isnan(first), second, first))
    heights = world[..., 1][np.r_[0:half, half + 30 : count]]
    np.testing.assert_allclose(heights, clip.poses_world[..., 1][np.r_[0:half, half + 30 : count]], atol=0.015)


def test_feet_stay_on_the_floor_when_the_legs_leave_the_picture(clip):
    count = len(clip.times)
    ground = fit_ground(clip.poses_camera, np.ones((count, 17)), np.ones(count, bool), clip.fps)
    relative = clip.poses_camera - clip.poses_camera[:, :1]
    trajectory = clip.poses_camera[:, 0].copy()
    confidence = np.ones((count, 17))
    # Frames 40-80: legs cut by the border; the solved root drifts up by up to 20 cm there (depth error).
    cut = np.arange(40, 80)
    confidence[40:80, [2, 3, 5, 6]] = 0
    drift = 0.2 * np.sin(np.linspace(0, np.pi, len(cut)))
    trajectory[cut] += drift[:, None] * ground.up
    # Elsewhere the root sits 5 cm too low: the seen feet would be under the floor.
    rest = np.setdiff1d(np.arange(count), cut)
    trajectory[rest] -= 0.05 * ground.up
    fixed = ground_feet(ground, relative, trajectory, confidence, np.ones(count, bool), clip.fps)
    world = ground.to_world(relative + fixed[:, None])
    pelvis_error = np.abs(world[:, 0, 1] - clip.poses_world[:, 0, 1])
    assert pelvis_error[cut].max() < 0.03  # no rising while the legs are out of the picture
    lowest = world[rest][:, [3, 6], 1].min(axis=1)
    assert lowest.min() > ANKLE_HEIGHT - 0.03  # never more than 3 cm below the floor with the feet seen
    assert np.abs(world[rest, 0, 1] - clip.poses_world[rest, 0, 1]).mean() < 0.02
    invalid = np.ones(count, bool)
    invalid[:10] = False
    trajectory[:10] = np.nan
    assert np.isnan(ground_feet(ground, relative, trajectory, confidence, invalid, clip.fps)[:10]).all()
