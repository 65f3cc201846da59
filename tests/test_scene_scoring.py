"""The video-accuracy scores on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.scenes.scene import Truth
from poselift.scenes.scoring import Predicted, detection_scores, match, score_person, summarise
from poselift.video.synthetic import walking_poses


def make_truth(people: int = 1, frames: int = 20) -> Truth:
    """People walking side by side 4 m in front of a camera at the origin looking along +z (y down)."""
    world = np.stack([walking_poses(np.arange(frames) / 30.0) + [1.2 * p, 0.0, 0.0] for p in range(people)])
    camera = world * [1.0, -1.0, 1.0] + [0.0, 1.0, 4.0]
    xy = camera[..., :2] / camera[..., 2:] * 500 + [320, 240]
    visible = np.ones(world.shape[:3], bool)
    return Truth(world, camera, xy, visible, visible.copy(), np.full(people, 1.7), np.arange(frames) / 30.0)


def perfect(truth: Truth, g: int = 0, id: int = 0) -> Predicted:
    cam = truth.joints_camera[g]
    floor_world = truth.joints_world[g]
    return Predicted(id, np.ones(len(cam), bool), truth.joints_2d[g].copy(), cam - cam[:, :1], cam[:, 0].copy(),
                     floor_world.copy())


UP = np.array([0.0, -1.0, 0.0])


def test_a_perfect_prediction_scores_zero_and_full_recall():
    truth = make_truth()
    pred = [perfect(truth)]
    assignment = match(pred, truth)
    assert (assignment == 0).all()
    part = score_person(pred[0], truth, 0, np.arange(20), UP)
    s = summarise([part], [detection_scores(assignment, pred, truth)])
    assert s["mpjpe_mm"] == 0 and s["p_mpjpe_mm"] == 0 and s["accel_error_mm"] == 0
    assert s["size_ratio"] == pytest.approx(1.0) and s["lean_error_deg"] == pytest.approx(0.0, abs=1e-3)
    assert s["root_error_m"] == 0 and s["recall"] == 1 and s["false_pose_rate"] == 0
    assert s["floor_penetration_mm"] == 0 and s["foot_skate_m_s"] < 0.35


def test_a_smaller_body_is_seen_by_size_and_mpjpe_but_not_p_mpjpe():
    truth = make_truth()
    pred = perfect(truth)
    pred.poses_3d = pred.poses_3d * 0.8
    s = summarise([score_person(pred, truth, 0, np.arange(20), UP)], [])
    assert s["size_ratio"] == pytest.approx(0.8)
    assert s["mpjpe_mm"] > 20 and s["p_mpjpe_mm"] < 1e-6 and s["n_mpjpe_mm"] < 1e-6


def test_jitter_is_acceleration_error_and_sinking_is_floor_penetration():
    truth = make_truth()
    pred = perfect(truth)
    pred.poses_3d = pred.poses_3d + np.where(np.arange(20) % 2, 0.01, -0.01)[:, None, None] * [1, 0, 0]
    pred.poses_3d[:, 0] = 0.0
    pred.poses_world = pred.poses_world - [0.0, 0.05, 0.0]
    s = summarise([score_person(pred, truth, 0, np.arange(20), UP)], [])
    assert s["accel_error_mm"] == pytest.approx(40.0 * 16 / 17, rel=1e-3)  # pelvis (0 of 17 joints) kept still
    assert s["floor_penetration_mm"] == pytest.approx(50.0, rel=1e-3)


def test_missed_frames_false_poses_and_identity_switches_are_counted():
    truth = make_truth(people=2)
    a, b = perfect(truth, 0, 0), perfect(truth, 1, 1)
    a.valid[:5] = False                              # person 0 missed in 5 frames
    swap_a, swap_b = perfect(truth, 1, 2), perfect(truth, 0, 3)
    a.valid[15:], b.valid[15:] = False, False        # from frame 15 two new tracks take over, crossed
    swap_a.valid[:15], swap_b.valid[:15] = False, False
    ghost = Predicted(9, np.ones(20, bool), np.full((20, 17, 2), 5.0), np.zeros((20, 17, 3)))
    pred = [a, b, swap_a, swap_b, ghost]
    assignment = match(pred, truth)
    det = detection_scores(assignment, pred, truth)
    assert det["present_frames"] == 40 and det["recalled_frames"] == 35
    assert det["false_poses"] == 20 and det["id_switches"] == 2 and det["tracks_per_person"] == [2, 2]
    s = summarise([], [det])
    assert s["recall"] == pytest.approx(35 / 40) and s["id_switches_per_1000"] == pytest.approx(50.0)


def test_a_pose_on_a_person_cut_by_the_border_is_not_counted_as_a_false_pose():
    truth = make_truth(people=1)
    truth.visible[0, :10, 6:] = False  # frames 0-9: legs and more out of the picture, 6 joints left
    truth.visible[0, 10:15, 3:] = False  # frames 10-14: only 3 joints seen
    truth.visible[0, 15:, 2:] = False  # frames 15-19: 2 joints seen, too few to say who a pose is
    pose = perfect(truth)
    ghost = Predicted(9, np.ones(20, bool), truth.joints_2d[0] + 400.0, np.zeros((20, 17, 3)))
    det = detection_scores(match([pose, ghost], truth), [pose, ghost], truth)
    assert det["present_frames"] == 0 and det["recalled_frames"] == 0
    assert det["partly_seen_poses"] == 15 and det["false_poses"] == 5 + 20
    assert summarise([], [det])["partly_seen_pose_rate"] == pytest.approx(15 / 40)


def test_score_scene_gathers_one_part_per_matched_track_and_the_detection_scores():
    from poselift.scenes.scoring import score_scene

    truth = make_truth(people=2)
    a, b = perfect(truth, 0, 0), perfect(truth, 1, 1)
    b.valid[10:] = False
    assignment, parts, det = score_scene([a, b], truth, np.diag([1.0, -1.0, 1.0]))
    assert [p["frames"] for p in parts] == [20, 10]
    assert det["recalled_frames"] == 30 and (assignment[1, 10:] == -1).all()
    s = summarise(parts, [det])
    assert s["mpjpe_mm"] == 0 and s["lean_error_deg"] == pytest.approx(0.0, abs=1e-3)
