"""`poselift evaluate --bvh`: motion capture through the synthesis, seeded, with unique sequence keys."""

from __future__ import annotations

import json

import numpy as np
import torch

from poselift.cli import main
from poselift.evaluation.mocap import mocap_evaluation_sequences
from poselift.models.registry import create_model
from poselift.models.weights import save_weights


def _files(shared_dir):
    folder = shared_dir / "data" / "mocap" / "bandai-namco" / "dataset-1"
    return [folder / "dataset-1_bow_childish_001.bvh", folder / "dataset-1_walk_childish_001.bvh"]


def test_evaluation_sequences_are_seeded_and_uniquely_keyed(shared_dir) -> None:
    files = _files(shared_dir)
    a = mocap_evaluation_sequences(files, views_per_clip=2, noise="detector", seed=7)
    b = mocap_evaluation_sequences(files, views_per_clip=2, noise="detector", seed=7)
    c = mocap_evaluation_sequences(files, views_per_clip=2, noise="detector", seed=8)
    keys = [(s.subject, s.action, s.camera) for s in a]
    assert len(set(keys)) == len(keys) and {s.action for s in a} == {"bow", "walk"}
    np.testing.assert_array_equal(a[0].keypoints_2d, b[0].keypoints_2d)
    assert not np.allclose(a[0].keypoints_2d, c[0].keypoints_2d)
    assert all(s.fps == 30.0 for s in a)
    assert mocap_evaluation_sequences(files, styles=["proud"]) == []


def test_evaluate_bvh_reports_all_protocols(shared_dir, tmp_path) -> None:
    torch.manual_seed(0)
    weights = save_weights(create_model("atcn_27f", channels=16), tmp_path / "m.safetensors", {"fps": 30})
    out = tmp_path / "report.json"
    args = ["evaluate", "--model", str(weights), "--bvh", *map(str, _files(shared_dir)), "--views", "1",
            "--noise", "light", "--json", str(out)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert report["dataset"] == "motion capture" and report["sources"]["noise"] == "light"
    for variant in ("no_flip", "flip"):
        figures = report["variants"][variant]["action_average"]
        assert set(figures) >= {"mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"}
        assert all(np.isfinite(v) and v > 0 for v in figures.values())
    assert main(args) == 0
    assert json.loads(out.read_text())["variants"] == report["variants"]  # seeded: the same figures again
