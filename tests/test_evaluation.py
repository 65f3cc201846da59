"""Benchmark aggregation: action grouping, frame weighting, action-wise averages, per subject and joint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poselift.errors import InputError
from poselift.evaluation import default_action_group, evaluate_predictions, format_markdown
from poselift.skeleton import H36M17


def shifted(target: np.ndarray, error_mm: float) -> np.ndarray:
    """A root-relative prediction whose every joint is off by error_mm (a constant 3-4-0 offset)."""
    rr = target - target[:, :1]
    return rr + np.array([0.6, 0.8, 0.0]) * error_mm / 1000


@pytest.fixture
def dataset(rng):
    # Absolute camera-frame ground truth (5 m away): the report makes it root-relative.
    def seq(frames):
        return rng.normal(scale=0.3, size=(frames, 17, 3)) + np.array([0.0, 0.0, 5.0])

    ground_truth = {
        ("S9", "Walking 1", "cam0"): seq(60),
        ("S9", "Walking 2", "cam0"): seq(30),
        ("S11", "Directions 1", "cam1"): seq(60),
    }
    errors = {"Walking 1": 10.0, "Walking 2": 40.0, "Directions 1": 30.0}
    plain = {k: shifted(v, errors[k[1]]) for k, v in ground_truth.items()}
    flipped = {k: shifted(v, errors[k[1]] / 2) for k, v in ground_truth.items()}
    return ground_truth, {"no_flip": plain, "flip": flipped}


def test_action_and_overall_averages_are_weighted_like_videopose3d(dataset):
    ground_truth, predictions = dataset
    report = evaluate_predictions(ground_truth, predictions, joint_names=H36M17.joint_names)
    plain = report["variants"]["no_flip"]
    # Walking = frame-weighted mean of its two takes: (60*10 + 30*40) / 90 = 20 mm
    assert plain["actions"]["Walking"]["mpjpe"] == pytest.approx(20.0)
    assert plain["actions"]["Walking"]["frames"] == 90 and plain["actions"]["Walking"]["sequences"] == 2
    assert plain["actions"]["Directions"]["mpjpe"] == pytest.approx(30.0)
    assert plain["action_average"]["mpjpe"] == pytest.approx(25.0)  # mean over the two actions
    assert plain["frame_average"]["mpjpe"] == pytest.approx((600 + 1200 + 1800) / 150)
    assert plain["subjects"]["S9"]["action_average"]["mpjpe"] == pytest.approx(20.0)
    assert plain["subjects"]["S11"]["action_average"]["mpjpe"] == pytest.approx(30.0)
    # a constant offset: no velocity error, and Procrustes removes it
    assert plain["action_average"]["mpjve"] == pytest.approx(0.0, abs=1e-9)
    assert plain["action_average"]["p_mpjpe"] == pytest.approx(0.0, abs=1e-6)
    assert plain["joints"]["left_wrist"]["mpjpe"] == pytest.approx(24.0)
    assert report["variants"]["flip"]["action_average"]["mpjpe"] == pytest.approx(12.5)
    assert report["num_frames"] == 150 and report["num_sequences"] == 3
    json.dumps(report, allow_nan=False)  # JSON-serialisable, no NaN


def test_markdown_lists_actions_subjects_joints_and_both_variants(dataset):
    ground_truth, predictions = dataset
    text = format_markdown(evaluate_predictions(ground_truth, predictions, H36M17.joint_names), "test")
    assert "## test" in text
    assert "| Walking | 20.0 |" in text
    assert "| **Average (actions)** | 25.0 |" in text
    assert "P1 flip" in text and "P1 no_flip" in text
    assert "| S11 |" in text and "| right_wrist |" in text
    assert text.index("| S9 |") < text.index("| S11 |")  # natural order of subjects
    assert "| S9 Walking | 20.0 |" in text


def test_action_group_strips_take_numbers():
    assert default_action_group("Walking 1") == "Walking"
    assert default_action_group("WalkDog") == "WalkDog"
    assert default_action_group("Box 1 chunk0") == "Box"


def test_bad_inputs_are_reported(dataset):
    ground_truth, predictions = dataset
    key = ("S9", "Walking 1", "cam0")
    with pytest.raises(InputError, match="lack 1 sequences"):
        evaluate_predictions(ground_truth, {"x": {k: v for k, v in predictions["flip"].items() if k != key}})
    bad = dict(predictions["flip"])
    bad[key] = bad[key][:-1]
    with pytest.raises(InputError, match="has shape"):
        evaluate_predictions(ground_truth, {"x": bad})
    with pytest.raises(InputError, match="joint names"):
        evaluate_predictions(ground_truth, predictions, joint_names=["a", "b"])
    with pytest.raises(InputError, match="no sequences"):
        evaluate_predictions({}, predictions)


# --- the evaluate command --------------------------------------------------------------------------------


def world_motion(rng, frames: int, joints: int) -> np.ndarray:
    base = rng.normal(scale=0.25, size=(joints, 3)) + np.array([0.0, 0.0, 0.9])
    return (base + np.cumsum(rng.normal(scale=0.005, size=(frames, 1, 3)), axis=0)).astype(np.float32)


@pytest.fixture
def h36m_files(tmp_path, rng):
    """Community-layout Human3.6M files: S9 and S11, two actions, 60 frames, 4 cameras, ground-truth 2D."""
    from poselift.camera import load_h36m_cameras
    from poselift.data import h36m

    positions = {s: {a: world_motion(rng, 60, 32) for a in ("Walking 1", "Eating 2")} for s in ("S9", "S11")}
    path_3d, path_2d = tmp_path / "data_3d_h36m.npz", tmp_path / "data_2d_h36m_gt.npz"
    h36m.save_positions_3d(path_3d, positions)
    h36m.save_positions_2d(path_2d, h36m.synthesise_2d(positions, load_h36m_cameras()), h36m.H36M17_METADATA)
    return path_3d, path_2d


def h36m_data(path_3d, path_2d, **kwargs):
    import argparse

    from poselift.evaluation import load_evaluation_data

    args = argparse.Namespace(dataset="h36m", data_3d=path_3d, data_2d=path_2d, subjects=None, actions=None)
    vars(args).update(kwargs)
    return load_evaluation_data(args)


def test_evaluate_core_with_a_stand_in_lifter(h36m_files):
    from poselift.evaluation import evaluate_sequences, predict

    data = h36m_data(*h36m_files)
    assert len(data.sequences) == 2 * 2 * 4 and data.name == "Human3.6M"

    def biased(keypoints):  # x, y, 0 plus a rightward bias that flip averaging cancels
        poses = np.concatenate([keypoints, np.zeros_like(keypoints[..., :1])], axis=-1).astype(np.float64)
        poses[..., 0] += 0.1
        return poses

    predictions = predict(data.sequences, biased, data.skeleton, flip=True)
    seq = data.sequences[0]
    key = (seq.subject, seq.action, seq.camera)
    np.testing.assert_allclose(predictions["no_flip"][key][..., 0], seq.keypoints_2d[..., 0] + 0.1, atol=1e-6)
    np.testing.assert_allclose(predictions["flip"][key][..., 0], seq.keypoints_2d[..., 0], atol=1e-6)

    def zeros(keypoints):
        return np.zeros((*keypoints.shape[:2], 3))

    report = evaluate_sequences(data, zeros, flip=True)
    # predicting the root for every joint: the error is the mean distance of the joints from the root
    expected = np.mean([np.linalg.norm(s.poses_3d - s.poses_3d[:, :1], axis=-1).mean() for s in data.sequences])
    assert report["variants"]["no_flip"]["action_average"]["mpjpe"] == pytest.approx(expected * 1000, abs=1e-3)
    assert report["variants"]["flip"]["action_average"]["mpjpe"] == pytest.approx(expected * 1000, abs=1e-3)
    assert sorted(report["variants"]["no_flip"]["actions"]) == ["Eating", "Walking"]
    assert report["subjects"] == ["S11", "S9"] and report["dataset"] == "Human3.6M"
    assert set(evaluate_sequences(data, zeros, flip=False)["variants"]) == {"no_flip"}


def test_evaluate_command_end_to_end(h36m_files, tmp_path, capsys):
    import json

    from poselift.cli import main
    from poselift.evaluation import evaluate_predictions
    from poselift.inference import Lifter
    from poselift.models.registry import create_model
    from poselift.models.weights import load_weights, save_weights

    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    weights = save_weights(create_model("atcn_27f"), tmp_path / "random.safetensors", {"fps": 50})
    path_3d, path_2d = h36m_files
    out_json, out_md = tmp_path / "report.json", tmp_path / "report.md"
    status = main(["evaluate", "--model", str(weights), "--data-3d", str(path_3d), "--data-2d", str(path_2d),
                   "--subjects", "S9", "--actions", "Walking", "--json", str(out_json), "--markdown", str(out_md)])
    assert status == 0
    assert torch.is_grad_enabled()  # the command leaves no global autograd state behind
    printed = capsys.readouterr().out
    assert "| Walking |" in printed and "P2 flip" in printed
    assert out_md.read_text() + "\n" == printed
    report = json.loads(out_json.read_text())
    assert report["model"]["receptive_field"] == 27 and report["num_sequences"] == 4
    assert report["num_frames"] == 240

    # The command's 2-pass flip averaging gives what the Lifter's own flip averaging gives.
    data = h36m_data(path_3d, path_2d, subjects="S9", actions="Walking")
    lifter = Lifter(load_weights(weights), flip=True)
    truth = {(s.subject, s.action, s.camera): s.poses_3d for s in data.sequences}
    direct = {(s.subject, s.action, s.camera): lifter.lift(s.keypoints_2d) for s in data.sequences}
    reference = evaluate_predictions(truth, {"flip": direct}, data.skeleton.joint_names)
    for key in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"):
        assert report["variants"]["flip"]["action_average"][key] == pytest.approx(
            reference["variants"]["flip"]["action_average"][key], abs=0.01
        )


def test_evaluate_humaneva_needs_a_15_joint_model(tmp_path, rng, capsys):
    from poselift.camera import project, world_to_camera
    from poselift.cli import main
    from poselift.data import h36m, humaneva
    from poselift.models.registry import create_model
    from poselift.models.weights import save_weights

    cameras = humaneva.humaneva_cameras()
    positions = {f"Validate/S{i}": {"Walking 1 chunk0": world_motion(rng, 30, 15)} for i in (1, 2, 3)}
    keypoints = {
        s: {a: [project(world_to_camera(w, c), dataclass_replace(c)) for c in cameras[s[-2:]]] for a, w in acts.items()}
        for s, acts in positions.items()
    }
    path_3d, path_2d = tmp_path / "data_3d_humaneva15.npz", tmp_path / "data_2d_humaneva15_gt.npz"
    h36m.save_positions_3d(path_3d, positions)
    h36m.save_positions_2d(path_2d, keypoints, humaneva.HUMANEVA15_METADATA)
    args = ["evaluate", "--dataset", "humaneva", "--data-3d", str(path_3d), "--data-2d", str(path_2d)]

    h36m_model = save_weights(create_model("atcn_27f", channels=64), tmp_path / "h36m.safetensors")
    assert main([*args, "--model", str(h36m_model)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"poselift: error: {h36m_model}: the model takes 17 joints but HumanEva-I has 15 (humaneva15); "
                   "use a 15-joint model trained on it")

    model = create_model("atcn_27f", channels=64, num_joints_in=15, num_joints_out=15)
    he_model = save_weights(model, tmp_path / "he.safetensors", {"joint_layout": "humaneva15", "fps": 60})
    out_json = tmp_path / "he.json"
    assert main([*args, "--model", str(he_model), "--json", str(out_json), "--no-flip"]) == 0
    import json

    report = json.loads(out_json.read_text())
    assert set(report["variants"]) == {"no_flip"} and report["num_sequences"] == 9
    assert list(report["variants"]["no_flip"]["actions"]) == ["Walking"]
    assert len(report["joint_names"]) == 15


def dataclass_replace(camera):
    """HumanEva cameras carry extrinsics only; a focal length lets the test draw 2D keypoints."""
    import dataclasses

    return dataclasses.replace(camera, focal=(1000.0, 1000.0))


def test_evaluate_command_input_errors(h36m_files, tmp_path, capsys):
    from poselift.cli import main

    path_3d, path_2d = h36m_files
    assert main(["evaluate", "--data-3d", str(path_3d)]) == 2
    assert "needs --data-3d and --data-2d" in capsys.readouterr().err
    assert main(["evaluate", "--data-3d", str(path_3d), "--data-2d", str(path_2d), "--actions", "Posing"]) == 2
    assert "no sequences match" in capsys.readouterr().err
