"""The scene renderer: body, posing, rasteriser, ground truth that agrees with the pictures."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.camera import Camera, look_at
from poselift.scenes.body import HIP_WIDTH_RATIO, BodyShape, make_body, random_shape
from poselift.scenes.posing import pose_body
from poselift.scenes.raster import rasterize
from poselift.scenes.scene import Outfit, Renderer, Scene, ScenePerson, load_truth, render_scene
from poselift.video.synthetic import walking_poses

OUTFIT = Outfit((210, 160, 120), (60, 40, 20), (200, 40, 40), (40, 70, 160), (30, 30, 30))


def camera(position=(0.0, 1.4, -4.5), target=(0.0, 0.9, 0.0), width=320, height=240, focal=300.0) -> Camera:
    rotation = look_at(np.array(position), np.array(target))
    return Camera(rotation, -rotation @ np.array(position), (focal, focal), (width / 2, height / 2), width, height)


def test_rasterize_fills_a_triangle_and_the_nearer_one_wins():
    xy = np.array([[10.0, 10.0], [10.0, 50.0], [50.0, 10.0], [10.0, 10.0], [10.0, 50.0], [50.0, 10.0]])
    z = np.array([2.0, 2.0, 2.0, 1.0, 1.0, 1.0])
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    out = rasterize(xy, z, faces, 64, 64, cull_back=False)
    covered = out.face >= 0
    assert abs(covered.sum() - 0.5 * 40 * 40) < 45  # the area, to within the pixels along the edges
    assert (out.face[covered] == 1).all() and np.allclose(out.depth[covered], 1.0)
    assert not covered[5, 5] and covered[15, 15] and not covered[45, 45]


def test_rasterize_culls_triangles_facing_away():
    xy = np.array([[10.0, 10.0], [50.0, 10.0], [10.0, 50.0]])
    assert (rasterize(xy, np.ones(3), np.array([[0, 1, 2]]), 64, 64).face < 0).all()
    assert (rasterize(xy, np.ones(3), np.array([[0, 2, 1]]), 64, 64).face >= 0).any()


def test_body_shapes_span_adult_heights_and_keep_the_documented_joints():
    heights = [make_body(random_shape(np.random.default_rng(i))).height for i in range(6)]
    assert 1.45 < min(heights) and max(heights) < 1.9 and np.ptp(heights) > 0.08
    body = make_body(BodyShape(male=1.0))
    hips = np.linalg.norm(body.joints[1] - body.joints[4])
    assert hips == pytest.approx(HIP_WIDTH_RATIO * body.height, rel=1e-6)
    assert body.joints[10, 1] == pytest.approx(body.height)  # head = top of the skull
    assert body.joints[3, 1] < 0.15 and body.joints[0, 1] > 0.8  # ankles low, pelvis at hip height


def test_posing_the_rest_pose_changes_nothing_and_a_motion_moves_the_joints():
    body = make_body()
    rest = pose_body(body, np.repeat(body.joints[None], 2, axis=0))
    assert np.abs(rest.vertices(0) - (body.vertices + rest.positions[0, 0] - body.pivots[0])).max() < 2e-3
    motion = walking_poses(np.arange(30) / 30.0)
    posed = pose_body(body, motion)
    # Bone directions follow the motion; lengths are the body's own.
    for a, b in ((0, 8), (4, 5), (5, 6), (11, 12), (15, 16)):
        d_motion = motion[:, b] - motion[:, a]
        d_body = posed.joints[:, b] - posed.joints[:, a]
        cos = (d_motion * d_body).sum(-1) / np.linalg.norm(d_motion, axis=-1) / np.linalg.norm(d_body, axis=-1)
        assert cos.min() > 0.98, (a, b)
        assert np.ptp(np.linalg.norm(d_body, axis=-1)) < 1e-3  # shoulders ride on the chest, not the arm
    assert np.percentile([posed.vertices(t)[:, 1].min() for t in range(30)], 10) == pytest.approx(0.0, abs=0.01)


def test_projected_joints_land_on_the_rendered_person(tmp_path):
    motion = walking_poses(np.arange(12) / 30.0)
    scene = Scene([ScenePerson(motion, BodyShape(), OUTFIT)], camera(), noise=0.0, seed=0)
    renderer = Renderer(scene)
    index = np.stack([renderer.frame(t)[1] for t in range(12)])
    truth = renderer.truth(index)
    assert truth.visible.all()
    xy = np.round(truth.joints_2d[0] - 0.5).astype(int)
    for t in range(12):
        for j in range(17):
            x, y = xy[t, j]
            assert (index[t, y - 2:y + 3, x - 2:x + 3] == 0).any(), (t, j)
    # The camera-frame truth projects to the 2D truth.
    cam = truth.joints_camera[0]
    assert np.allclose(cam[..., :2] / cam[..., 2:] * 300.0 + [160, 120], truth.joints_2d[0], atol=1e-4)


def test_a_person_behind_another_is_marked_hidden_and_files_are_written(tmp_path):
    front = walking_poses(np.arange(6) / 30.0, radius=0.01, speed=0.0)
    behind = front + [0.0, 0.0, 2.0]
    scene = Scene([ScenePerson(front, BodyShape(), OUTFIT), ScenePerson(behind, BodyShape(), OUTFIT)],
                  camera(position=(0.0, 1.0, -4.0), target=(0.0, 1.0, 0.0)), noise=1.0, seed=0)
    truth = render_scene(scene, tmp_path / "two.mp4", tmp_path / "two_truth.npz")
    assert truth.visible[0].mean() > 0.9
    assert truth.visible[1].mean() < 0.5 and truth.in_image[1].all()
    loaded = load_truth(tmp_path / "two_truth.npz")
    assert np.array_equal(loaded.visible, truth.visible)
    assert loaded.meta["people"][1]["height_m"] == pytest.approx(truth.heights[1], abs=1e-3)
    import av

    with av.open(str(tmp_path / "two.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == (240, 320, 3)


def test_people_come_and_go_and_the_truth_says_when(tmp_path):
    motion = walking_poses(np.arange(8) / 30.0)
    later = ScenePerson(motion + [0.6, 0.0, 0.0], BodyShape(male=1.0), OUTFIT, start=6)
    scene = Scene([ScenePerson(motion, BodyShape(), OUTFIT), later], camera(), noise=0.0, seed=0)
    renderer = Renderer(scene)
    assert scene.num_frames == 14
    index = np.stack([renderer.frame(t)[1] for t in range(14)])
    truth = renderer.truth(index)
    assert (index[:6] != 1).all() and (index[8:] != 0).all()   # nobody drawn outside their span
    assert np.isnan(truth.joints_world[1, :6]).all() and not truth.in_image[1, :6].any()
    assert truth.present()[0, :8].all() and not truth.present()[0, 8:].any() and truth.present()[1, 6:].all()


def test_visitors_enter_cross_and_leave_one_after_another():
    from poselift.scenes.visitors import visitors_scene

    scene = visitors_scene(np.random.default_rng(0), people=3, fps=10.0)
    starts = [p.start for p in scene.people]
    assert starts == sorted(starts) and starts[0] > 0
    truth = Renderer(scene).truth()
    for k in range(3):
        span = slice(scene.people[k].start, scene.people[k].start + len(scene.people[k].motion))
        inside = truth.in_image[k, span].any(axis=-1)
        assert not inside[0] and not inside[-1] and inside.mean() > 0.5  # starts and ends out of the picture
