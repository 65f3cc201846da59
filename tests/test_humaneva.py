"""HumanEva-I community files (small fixtures of the real layout): prefixes, chunks, cameras, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from poselift.camera import normalize_screen_coordinates, project, world_to_camera
from poselift.data import h36m, humaneva
from poselift.errors import InputError


def world_motion(rng: np.random.Generator, frames: int, joints: int = 15) -> np.ndarray:
    base = rng.normal(scale=0.25, size=(joints, 3)) + np.array([0.0, 0.0, 1.0])
    return (base + np.cumsum(rng.normal(scale=0.005, size=(frames, 1, 3)), axis=0)).astype(np.float32)


def pinhole(camera):
    """HumanEva cameras carry extrinsics only; give them a focal length to draw 2D fixtures."""
    return dataclasses.replace(camera, focal=(1000.0, 1000.0))


@pytest.fixture
def files(tmp_path, rng):
    cameras = humaneva.humaneva_cameras()
    positions = {
        "Train/S1": {"Walking 1 chunk0": world_motion(rng, 40)},
        "Validate/S1": {"Walking 1 chunk0": world_motion(rng, 30), "Gestures 1 chunk0": world_motion(rng, 20)},
        "Validate/S2": {"Jog 1 chunk0": world_motion(rng, 25), "Box 1 chunk1": world_motion(rng, 20)},
        "Validate/S3": {"ThrowCatch 1 chunk0": world_motion(rng, 20)},
    }
    keypoints = {
        subject: {
            action: [
                project(world_to_camera(world, cam), pinhole(cam)).astype(np.float32)
                for cam in cameras[humaneva.base_subject(subject)]
            ]
            for action, world in actions.items()
        }
        for subject, actions in positions.items()
    }
    keypoints["Unlabeled/S3"] = {"Walking 1": [None, None, np.zeros((10, 15, 2), np.float32)]}
    path_3d, path_2d = tmp_path / "data_3d_humaneva15.npz", tmp_path / "data_2d_humaneva15_gt.npz"
    h36m.save_positions_3d(path_3d, positions)
    h36m.save_positions_2d(path_2d, keypoints, humaneva.HUMANEVA15_METADATA)
    return path_3d, path_2d, positions, keypoints


def test_cameras_look_at_the_capture_volume():
    cameras = humaneva.humaneva_cameras()
    assert sorted(cameras) == ["S1", "S2", "S3"]
    centre = np.array([0.0, 0.0, 1.0])  # a metre above the floor, in the middle of the room
    for views in cameras.values():
        assert [c.name for c in views] == ["C1", "C2", "C3"]
        for camera in views:
            x, y, z = world_to_camera(centre, camera)
            assert 2.5 < z < 6 and abs(x) < 1.5 * z  # in front, roughly in view
            assert (camera.width, camera.height) == (640, 480)


def test_default_test_set(files):
    path_3d, path_2d, positions, keypoints = files
    sequences = humaneva.load_humaneva_sequences(path_3d, path_2d)
    assert {(s.subject, s.action) for s in sequences} == {
        ("Validate/S1", "Walking 1 chunk0"), ("Validate/S2", "Jog 1 chunk0"), ("Validate/S2", "Box 1 chunk1"),
    }  # Train/ parts and Gestures are not in the usual test set
    assert len(sequences) == 3 * 3
    seq = next(s for s in sequences if s.subject == "Validate/S2" and s.action == "Jog 1 chunk0" and s.camera == "C2")
    seq.validate()
    assert seq.fps == 60 and seq.num_joints == 15 and seq.num_frames == 25
    camera = humaneva.humaneva_cameras()["S2"][1]
    np.testing.assert_allclose(seq.poses_3d, world_to_camera(positions["Validate/S2"]["Jog 1 chunk0"], camera),
                               atol=1e-5)
    np.testing.assert_allclose(
        seq.keypoints_2d, normalize_screen_coordinates(keypoints["Validate/S2"]["Jog 1 chunk0"][1], 640, 480)
    )


def test_subject_and_action_choice(files):
    path_3d, path_2d, *_ = files
    train = humaneva.load_humaneva_sequences(path_3d, path_2d, subjects=humaneva.TRAIN_SUBJECTS[:1], actions=None)
    assert {(s.subject, s.action) for s in train} == {("Train/S1", "Walking 1 chunk0")}
    everything = humaneva.load_humaneva_sequences(path_3d, path_2d, subjects=None, actions=None)
    assert len(everything) == 6 * 3
    with pytest.raises(InputError, match="subject Train/S3 not in file"):
        humaneva.load_humaneva_sequences(path_3d, path_2d, subjects=["Train/S3"])


def test_missing_views_are_skipped(files, tmp_path):
    path_3d, _, _, keypoints = files
    views = keypoints["Validate/S1"]["Walking 1 chunk0"]
    keypoints["Validate/S1"]["Walking 1 chunk0"] = [None, views[1], None]
    path_2d = tmp_path / "2d.npz"
    h36m.save_positions_2d(path_2d, keypoints, humaneva.HUMANEVA15_METADATA)
    sequences = humaneva.load_humaneva_sequences(path_3d, path_2d, subjects=["Validate/S1"])
    assert [s.camera for s in sequences] == ["C2"]


def test_wrong_joint_counts_and_layouts(files, tmp_path, rng):
    path_3d, path_2d, positions, keypoints = files
    h36m_3d = tmp_path / "h36m_like.npz"
    h36m.save_positions_3d(h36m_3d, {"Validate/S1": {"Walking 1 chunk0": world_motion(rng, 30, joints=17)}})
    with pytest.raises(InputError) as excinfo:
        humaneva.load_humaneva_sequences(h36m_3d, path_2d)
    assert str(excinfo.value) == f"{h36m_3d}: Validate/S1/Walking 1 chunk0: expected 15 joints, found 17"

    h36m_2d = tmp_path / "h36m_2d.npz"
    h36m.save_positions_2d(h36m_2d, keypoints, h36m.H36M17_METADATA)
    with pytest.raises(InputError, match="15 joints, but the metadata says 17"):
        humaneva.load_humaneva_sequences(path_3d, h36m_2d)
    with pytest.raises(InputError, match="expected 32 or 17 joints, found 15"):
        h36m.load_h36m_sequences(path_3d, path_2d)
    with pytest.raises(InputError, match="expected 17 joints, found 15"):
        h36m.load_positions_2d(path_2d)
