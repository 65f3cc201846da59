"""Cameras: world <-> camera frames, projection with Human3.6M lens distortion, the H36M calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poselift.camera import (
    H36M_CAMERA_IDS,
    Camera,
    camera_from_quaternion,
    camera_to_world,
    image_coordinates,
    load_h36m_cameras,
    look_at,
    normalize_screen_coordinates,
    project,
    quaternion_to_matrix,
    world_to_camera,
)


def simple_camera(**changes) -> Camera:
    values = dict(R=np.eye(3), t=np.zeros(3), focal=(1000.0, 1000.0), centre=(500.0, 500.0), width=1000, height=1000)
    values.update(changes)
    return Camera(**values)


def test_project_known_point():
    camera = simple_camera(focal=(1000.0, 800.0), centre=(480.0, 520.0))
    np.testing.assert_allclose(project(np.array([0.1, -0.2, 2.0]), camera), [530.0, 440.0])
    batch = np.zeros((4, 17, 3)) + [0.0, 0.0, 5.0]
    assert project(batch, camera).shape == (4, 17, 2)


def test_world_camera_round_trip_and_position():
    rng = np.random.default_rng(0)
    R = quaternion_to_matrix(rng.normal(size=4))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    camera = simple_camera(R=R, t=np.array([0.3, -0.2, 4.0]))
    points = rng.normal(size=(10, 17, 3))
    in_camera = world_to_camera(points, camera)
    np.testing.assert_allclose(in_camera[3, 5], R @ points[3, 5] + camera.t)
    np.testing.assert_allclose(camera_to_world(in_camera, camera), points, atol=1e-12)
    np.testing.assert_allclose(world_to_camera(camera.position, camera), 0, atol=1e-12)


def test_distortion_matches_the_human36m_model_by_hand():
    k, p = np.array([-0.2, 0.25, -0.003]), np.array([-0.001, -0.0014])
    camera = simple_camera(k=k, p=p)
    x, y = 0.1, -0.15
    r2 = x * x + y * y
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tangential = p[0] * x + p[1] * y
    expected = np.array([x * (radial + tangential) + p[0] * r2, y * (radial + tangential) + p[1] * r2]) * 1000 + 500
    point = np.array([x, y, 1.0]) * 3.0
    np.testing.assert_allclose(project(point, camera), expected)
    np.testing.assert_allclose(project(point, camera, distort_lens=False), [600.0, 350.0])
    np.testing.assert_allclose(project(np.array([0.0, 0.0, 2.0]), camera), [500.0, 500.0])  # centre unmoved


def test_look_at_centres_the_target_with_up_pointing_up_in_the_image():
    position, target = np.array([3.0, 1.6, -4.0]), np.array([0.0, 1.0, 0.0])
    camera = simple_camera(R=look_at(position, target), t=np.zeros(3))
    camera = simple_camera(R=camera.R, t=-camera.R @ position)
    np.testing.assert_allclose(camera.position, position, atol=1e-12)
    np.testing.assert_allclose(project(world_to_camera(target, camera), camera), [500.0, 500.0], atol=1e-9)
    above = project(world_to_camera(target + [0, 0.5, 0], camera), camera)
    assert above[1] < 500 and abs(above[0] - 500) < 1e-6
    with pytest.raises(ValueError):
        look_at(np.zeros(3), np.array([0.0, 5.0, 0.0]))


def test_unknown_intrinsics_refuse_to_project():
    camera = camera_from_quaternion(np.array([1.0, 0, 0, 0]), np.zeros(3), width=640, height=480, name="C1")
    assert camera.centre == (320.0, 240.0)
    np.testing.assert_allclose(world_to_camera(np.array([0.0, 0.0, 2.0]), camera), [0, 0, 2])
    with pytest.raises(ValueError, match="no intrinsics"):
        project(np.array([0.0, 0.0, 2.0]), camera)


def test_h36m_cameras_look_at_the_capture_area():
    cameras = load_h36m_cameras()
    assert sorted(cameras) == ["S1", "S11", "S5", "S6", "S7", "S8", "S9"]
    for subject, views in cameras.items():
        assert [c.name for c in views] == list(H36M_CAMERA_IDS)
        for camera in views:
            assert 4.0 < np.linalg.norm(camera.position[:2]) < 6.5 and 1.2 < camera.position[2] < 2.0, subject
            assert 44 < camera.horizontal_fov < 49
            # A person standing at the centre of the room (world Z up, metres) is inside the image, upright.
            feet, head = (world_to_camera(np.array([0.0, 0.0, h]), camera) for h in (0.0, 1.7))
            assert feet[2] > 3 and head[2] > 3
            feet_px, head_px = project(feet, camera), project(head, camera)
            for px in (feet_px, head_px):
                assert 0 < px[0] < camera.width and 0 < px[1] < camera.height
            assert head_px[1] < feet_px[1] - 200
    np.testing.assert_allclose(cameras["S1"][0].position, [1.8411, 4.9553, 1.5634], atol=1e-3)


def test_h36m_calibration_copy_matches_the_shared_numbers(shared_dir):
    shared = json.loads((shared_dir / "data/h36m_cameras.json").read_text())
    cameras = load_h36m_cameras()
    for index, intrinsics in enumerate(shared["intrinsics"]):
        camera = cameras["S9"][index]
        assert camera.name == intrinsics["id"]
        np.testing.assert_allclose(camera.focal, intrinsics["focal_length"])
        np.testing.assert_allclose(camera.centre, intrinsics["center"])
        np.testing.assert_allclose(camera.k, intrinsics["radial_distortion"])
        np.testing.assert_allclose(camera.p, intrinsics["tangential_distortion"])
        assert (camera.width, camera.height) == (intrinsics["res_w"], intrinsics["res_h"])
    for subject, views in shared["extrinsics"].items():
        for camera, view in zip(cameras.get(subject, []), views, strict=False):
            np.testing.assert_allclose(camera.position, np.array(view["translation"]) / 1000, atol=1e-9)
            # The file's rule: X_cam = R^T (X_world - t), R the rotation of the orientation quaternion.
            R = quaternion_to_matrix(np.array(view["orientation"]))
            point = np.array([0.5, -0.3, 1.2])
            np.testing.assert_allclose(
                world_to_camera(point, camera), R.T @ (point - camera.position), atol=1e-9
            )


def test_screen_normalisation_round_trip():
    xy = np.array([[0.0, 0.0], [1920.0, 1080.0], [960.0, 540.0]])
    normalised = normalize_screen_coordinates(xy, 1920, 1080)
    np.testing.assert_allclose(normalised[2], [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(image_coordinates(normalised, 1920, 1080), xy, atol=1e-3)
