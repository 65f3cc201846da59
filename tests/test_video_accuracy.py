"""The video chain end to end on rendered people: the benchmark and the demo (slow: they run the detector)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from poselift.data.mocap import load_clip
from poselift.video.detector import detector_available

needs_detector = pytest.mark.skipif(not detector_available(), reason="needs the detector (poselift[detect])")


def test_cmu_daz_mapping_drops_the_t_pose_and_widens_the_hips(shared_dir):
    path = shared_dir / "data/mocap/cmu-daz/12/12_01.bvh"
    clip = load_clip(path)
    assert clip.source == "cmu-daz" and clip.fps == 120
    from poselift.data.bvh import read_bvh

    assert clip.num_frames == read_bvh(path).num_frames - 1
    hips = np.linalg.norm(clip.joints_3d[:, 1] - clip.joints_3d[:, 4], axis=-1)
    assert 0.25 < hips.mean() < 0.30
    assert (clip.joints_3d[:, 10, 1] > clip.joints_3d[:, 8, 1] + 0.15).mean() > 0.95  # head top above the thorax


@pytest.mark.slow
@needs_detector
def test_benchmark_scores_a_rendered_clip_for_both_methods(shared_dir, tmp_path):
    from poselift.scenes.benchmark import benchmark_files, video_accuracy

    files = benchmark_files("validation", shared_dir / "data/mocap")[1:2]
    report = video_accuracy(files, views=1, seconds=1.5, work_dir=tmp_path)
    for method in ("poselift", "mediapipe"):
        s = report["summary"][method]
        assert s["frames_scored"] > 20 and 10 < s["p_mpjpe_mm"] < 200 and s["recall"] > 0.5
    assert report["summary"]["poselift"]["root_error_m"] is not None
    assert set(report["detector_offsets_mm"]) >= {"left_hip", "head"}
    assert (tmp_path / f"{files[0].stem}_view0.mp4").is_file()


@pytest.mark.slow
@needs_detector
def test_demo_runs_the_detector_on_a_rendered_person_and_scores_it(tmp_path):
    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "poselift", "demo", "-o", str(out), "--seconds", "2", "--quiet"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    scores = json.loads((out / "demo_scores.json").read_text())
    assert scores["poselift"]["recall"] > 0.9 and scores["poselift"]["p_mpjpe_mm"] < 120
    assert scores["mediapipe"]["p_mpjpe_mm"] is not None
    for name in ("input/walk.mp4", "input/ground_truth.npz", "poses_3d.npz", "render.mp4", "viewer.html"):
        assert (out / name).is_file(), name
    assert "P-MPJPE" in run.stdout
