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
