"""Conversion of detector layouts (COCO, Halpe, OpenPose, MediaPipe) to Human3.6M's 17 joints."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.skeleton import H36M17
from poselift.video.layouts import HIP_SCALE, LAYOUTS, get_layout, to_h36m

# A front-facing person in pixels, by our joint names (the person's left is on the image right).
BODY = {
    "nose": (100, 40), "left_eye": (104, 36), "right_eye": (96, 36), "left_ear": (110, 40),
    "right_ear": (90, 40), "left_shoulder": (120, 70), "right_shoulder": (80, 70), "left_elbow": (125, 100),
    "right_elbow": (75, 100), "left_wrist": (128, 130), "right_wrist": (72, 130), "left_hip": (112, 140),
    "right_hip": (88, 140), "left_knee": (113, 190), "right_knee": (87, 190), "left_ankle": (114, 240),
    "right_ankle": (86, 240), "neck": (100, 68), "head_top": (100, 12), "mid_hip": (100, 140),
}


def _source(layout_name: str) -> tuple[np.ndarray, np.ndarray]:
    layout = get_layout(layout_name)
    xy = np.array([BODY.get(name, (100 + i, 200 - i)) for i, name in enumerate(layout.joint_names)], float)
    return xy, np.ones(layout.num_joints)


@pytest.mark.parametrize("name", [n for n in LAYOUTS if n != "h36m17"])
def test_every_layout_builds_the_documented_joints(name):
    xy, scores = _source(name)
    out, conf = to_h36m(xy, scores, name)
    assert out.shape == (17, 2) and conf.shape == (17,)
    j = {n: i for i, n in enumerate(H36M17.joint_names)}
    np.testing.assert_allclose(out[j["pelvis"]], (100, 140))
    np.testing.assert_allclose(out[j["thorax"]], (100, 70))
    np.testing.assert_allclose(out[j["spine"]], (100, 105))
    np.testing.assert_allclose(out[j["left_hip"]], (100 + 12 * HIP_SCALE, 140))  # widened about the pelvis
    np.testing.assert_allclose(out[j["right_hip"]], (100 - 12 * HIP_SCALE, 140))
    np.testing.assert_allclose(out[j["left_wrist"]], BODY["left_wrist"])
    np.testing.assert_allclose(out[j["right_ankle"]], BODY["right_ankle"])
    np.testing.assert_allclose(out[j["neck"]], BODY["nose"])
    assert out[j["head"], 1] < BODY["left_eye"][1]  # the head top is above the eyes
    assert np.all(conf == 1)


def test_head_top_is_taken_from_halpe_and_extrapolated_for_coco():
    halpe, _ = to_h36m(*_source("halpe26"), "halpe26")
    np.testing.assert_allclose(halpe[10], BODY["head_top"])
    coco, _ = to_h36m(*_source("coco17"), "coco17")
    # ears at y=40, thorax at y=70: half of that distance above the ears.
    np.testing.assert_allclose(coco[10], (100, 40 - 15))


def test_confidence_is_the_minimum_of_the_sources_used():
    xy, scores = _source("coco17")
    layout = get_layout("coco17")
    scores[layout.joint_names.index("left_hip")] = 0.4
    scores[layout.joint_names.index("left_shoulder")] = 0.7
    _, conf = to_h36m(xy, scores, "coco17")
    assert conf[0] == pytest.approx(0.4)  # pelvis uses both hips
    assert conf[4] == pytest.approx(0.4)  # left hip
    assert conf[1] == pytest.approx(0.4)  # right hip is placed about the pelvis
    assert conf[8] == pytest.approx(0.7)  # thorax uses both shoulders
    assert conf[7] == pytest.approx(0.4)  # spine uses pelvis and thorax
    assert conf[13] == 1.0


def test_missing_ears_fall_back_to_eyes_and_missing_nose_to_a_neck_guess():
    xy, scores = _source("coco17")
    names = get_layout("coco17").joint_names
    scores[[names.index("left_ear"), names.index("right_ear"), names.index("nose")]] = 0
    out, conf = to_h36m(xy, scores, "coco17")
    np.testing.assert_allclose(out[10], (100, 36 - 0.5 * (70 - 36)))  # from the eye midpoint
    assert 36 < out[9, 1] < 70 and conf[9] == 1.0  # neck between thorax and eyes


def test_batched_input_and_nan_become_zero_confidence():
    xy, scores = _source("body25")
    batch = np.stack([xy, xy])
    batch[1, 4] = np.nan  # right wrist of the second frame
    out, conf = to_h36m(batch, np.stack([scores, scores]), "openpose")
    assert out.shape == (2, 17, 2) and np.isfinite(out).all()
    assert conf[1, 16] == 0 and conf[0, 16] == 1


def test_wrong_shape_and_unknown_layout():
    with pytest.raises(ValueError, match="17"):
        to_h36m(np.zeros((18, 2)), None, "coco17")
    with pytest.raises(KeyError, match="unknown keypoint layout"):
        get_layout("nope")
    assert get_layout("COCO").name == "coco17" and get_layout("blazepose").num_joints == 33
