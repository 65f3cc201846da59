"""Regression tests for issue 24: hostile and broken inputs end in one line, in bounded memory, with no lost data."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from poselift.atomic import remove_stale_temporaries, write_text_atomic
from poselift.cli import main
from poselift.data.bvh import parse_bvh, read_bvh
from poselift.data.mocap import detect_mapping
from poselift.errors import InputError
from poselift.video.keypoint_files import read_keypoints

REPO = Path(__file__).resolve().parents[1]


def one_line_error(capsys, argv: list[str]) -> str:
    """Run the CLI on bad input: status 2 and exactly one stderr line, no traceback."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("usage:", " "))]
    assert len(lines) == 1, err
    return lines[0]


def peak_bytes(call) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(InputError):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def coco_entry(image_id) -> dict:
    return {"image_id": image_id, "category_id": 1, "keypoints": [100.0, 100.0, 0.9] * 17, "score": 0.9}


def test_coco_image_id_of_a_billion_is_refused_without_building_the_frames(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps([coco_entry(0), coco_entry(10**9)]))
    assert peak_bytes(lambda: read_keypoints(path)) < 20 * 2**20


def test_openpose_file_named_with_a_huge_frame_number_is_refused(tmp_path):
    frame = {"people": [{"pose_keypoints_2d": [100.0, 100.0, 0.9] * 25}]}
    for name in ("clip_000000000000", "clip_999999999999"):
        (tmp_path / f"{name}_keypoints.json").write_text(json.dumps(frame))
    with pytest.raises(InputError, match="frame number"):
        read_keypoints(tmp_path)


def test_sparse_frame_numbers_within_the_span_still_read(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps([coco_entry(0), coco_entry(5000)]))
    assert read_keypoints(path).num_frames == 5001


@pytest.mark.parametrize("keypoints,problem", [
    ([1e300, 1.0, 0.9] * 17, "out of range"),
    (["100", "100", "0.9"] * 17, "expected numbers"),
    ([[1, 2, 3]] * 17, "flat list"),
])
def test_coco_keypoint_values_are_validated(tmp_path, keypoints, problem):
    path = tmp_path / "results.json"
    path.write_text(json.dumps([{"image_id": 0, "category_id": 1, "keypoints": keypoints}]))
    with pytest.raises(InputError, match=problem):
        read_keypoints(path)


def test_bvh_frame_time_and_nesting_are_bounded():
    valid = (REPO / "tests").glob("*.bvh")
    del valid
    text = ("HIERARCHY\nROOT r\n{\nOFFSET 0 0 0\nCHANNELS 3 Xrotation Yrotation Zrotation\n"
            "}\nMOTION\nFrames: 1\nFrame Time: 100000\n0 0 0\n")
    with pytest.raises(InputError, match="Frame Time"):
        parse_bvh(text, "slow.bvh")
    deep = ("HIERARCHY\nROOT r\n{\nOFFSET 0 0 0\n" + "".join(f"JOINT j{i}\n{{\nOFFSET 0 1 0\n" for i in range(1000))
            + "}\n" * 1000 + "}\nMOTION\nFrames: 0\nFrame Time: 0.04\n")
    with pytest.raises(InputError, match="nested"):
        parse_bvh(deep, "deep.bvh")


def test_own_bvh_export_suggests_the_cli_mapping_option():
    with pytest.raises(InputError, match="--mapping"):
        detect_mapping(["Hips", "LeftUpperLeg", "Spine"], "take.bvh")


def test_forged_safetensors_channels_are_refused_before_building(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors import safe_open
    from safetensors.torch import save_file

    from poselift.models.registry import create_model
    from poselift.models.weights import CONFIG_KEY, load_weights, save_weights

    good = tmp_path / "good.safetensors"
    save_weights(create_model("atcn_27f", channels=16), good)
    with safe_open(str(good), framework="pt") as f:
        metadata, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads(metadata[CONFIG_KEY])
    metadata[CONFIG_KEY] = json.dumps({**config, "channels": 16000})
    forged = tmp_path / "forged.safetensors"
    save_file(tensors, str(forged), metadata=metadata)
    with pytest.raises(InputError, match="do not fit"):
        load_weights(forged)
    del torch


def test_broadcast_checkpoint_tensors_are_refused(tmp_path):
    torch = pytest.importorskip("torch")
    from poselift.models.convert import load_released_checkpoint

    path = tmp_path / "forged.bin"
    torch.save({"model_pos": {"expand_conv.weight": torch.zeros(1).expand(16000, 34, 3),
                              "expand_bn.weight": torch.zeros(16000), "shrink.weight": torch.zeros(51, 16000, 1)}},
               path)
    with pytest.raises(InputError, match="stores only"):
        load_released_checkpoint(path)


@pytest.mark.parametrize("arrays,problem", [
    ({"keypoints_2d": np.full((5, 17, 2), 1e300)}, "out of range"),
    ({"keypoints_2d": np.full((5, 17, 2), "1")}, "expected numbers"),
    ({"keypoints_2d": np.zeros((5, 17, 2)), "image_size": np.array([np.inf, 480.0])}, "image_size"),
    ({"keypoints_2d": np.zeros((5, 17, 2)), "image_size": np.array(["640", "480"])}, "image_size"),
])
def test_lift_refuses_bad_values_in_one_line(tmp_path, capsys, arrays, problem):
    path = tmp_path / "kp.npz"
    np.savez(path, **arrays)
    assert problem in one_line_error(capsys, ["lift", str(path), "--out", str(tmp_path / "out.npz")])


@pytest.mark.parametrize("argv", [
    ["lift", "kp.npz", "--out", "o.npz", "--roll-tta", "nan"],
    ["lift", "kp.npz", "--out", "o.npz", "--batch-size", "0"],
    ["video", "clip.mp4", "-o", "out", "--focal", "-100"],
    ["video", "kp.json", "-o", "out", "--fps", "0"],
    ["video", "kp.json", "-o", "out", "--image-size", "0x480"],
    ["export-bvh", "p.npz", "-o", "o.bvh", "--fps", "inf"],
    ["live", "--source", "-", "--threads", "0"],
])
def test_cli_numbers_are_range_checked(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_lift_reads_a_bare_npy_and_refuses_a_folder_as_output(tmp_path, capsys):
    keypoints = np.random.default_rng(0).uniform(-0.5, 0.5, (30, 17, 2)).astype(np.float32)
    np.save(tmp_path / "kp.npy", keypoints)
    out = tmp_path / "poses.npz"
    assert main(["lift", str(tmp_path / "kp.npy"), "--out", str(out)]) == 0
    assert np.load(out)["poses_3d"].shape == (30, 17, 3)
    assert "is a folder" in one_line_error(capsys, ["lift", str(tmp_path / "kp.npy"), "--out", str(tmp_path)])


def test_text_and_empty_files_as_npz_get_no_pickle_advice(tmp_path, capsys):
    text = tmp_path / "notes.npz"
    text.write_text("hello, these are not arrays\n")
    line = one_line_error(capsys, ["lift", str(text), "--out", str(tmp_path / "o.npz")])
    assert "allow_pickle" not in line and "not an .npz" in line
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    assert "empty" in one_line_error(capsys, ["export-bvh", str(empty), "-o", str(tmp_path / "o.bvh")])


@pytest.mark.parametrize("text,problem", [
    ("[1, 2, 3]", "must be a table"),
    ('{"model": 5}', "'model' must be a table"),
    ('{"max_windows_per_epoch": -1}', "max_windows_per_epoch"),
])
def test_training_configs_are_validated(tmp_path, capsys, text, problem):
    path = tmp_path / "config.json"
    path.write_text(text)
    assert problem in one_line_error(capsys, ["train", "--config", str(path), "--print-config"])


def test_a_bug_shows_its_traceback_with_a_report_hint(monkeypatch, capsys):
    import poselift.commands.models as models

    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(models, "run", broken)
    assert main(["models"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err and "bug in poselift" in err


def test_help_shows_each_default_once(capsys):
    with pytest.raises(SystemExit):
        main(["lift", "--help"])
    out = capsys.readouterr().out
    assert out.count("(default:") == out.replace("\n", " ").count("(default:")
    assert "(default: None)" not in out and "default: the default model" in " ".join(out.split())


def test_models_matches_substrings_and_marks_the_default(capsys):
    assert main(["models", "mocap"]) == 0
    out = capsys.readouterr().out
    assert "atcn_27f_mocap" in out and "(the default)" in out
    assert main(["models", "no-such-model"]) == 1
    assert "no model name" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------- atomic


def test_stale_temporaries_of_dead_processes_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "out.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.json.poselift-{int(dead.stdout)}-0123abcd.json"
    alive = tmp_path / f".out.json.poselift-{os.getpid()}-0123abcd.json"
    stale.write_text("half")
    alive.write_text("in progress")
    write_text_atomic(target, "{}")
    assert target.read_text() == "{}" and not stale.exists() and alive.exists()
    assert remove_stale_temporaries(target) == []


# --------------------------------------------------------------------------------------------------- live


def _causal_model(tmp_path: Path) -> Path:
    pytest.importorskip("torch")
    from poselift.models.registry import create_model
    from poselift.models.weights import save_weights

    path = tmp_path / "causal.safetensors"
    save_weights(create_model("atcn_27f_causal", channels=32), path, {"fps": 50})
    return path


def _lines(count: int, fps: float | None = None) -> list[str]:
    rng = np.random.default_rng(0)
    base = rng.uniform(200, 400, size=(17, 2))
    lines = []
    for t in range(count):
        item = {"keypoints": (base + rng.normal(scale=2, size=(17, 2))).tolist(), "width": 640, "height": 480}
        if fps:
            item["time"] = t / fps
        lines.append(json.dumps(item))
    return lines


def test_live_skips_bad_lines_and_records_at_the_source_rate(tmp_path, monkeypatch, capsys):
    model = _causal_model(tmp_path)
    lines = _lines(60, fps=10.0)
    lines[40] = "{not json"
    lines[45] = json.dumps({**json.loads(lines[45]), "time": float("nan")}).replace("NaN", "NaN")
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    out, latency = tmp_path / "live.bvh", tmp_path / "latency.json"
    assert main(["live", "--source", "-", "--model", str(model), "--record", str(out), "--smooth", "--no-flip",
                 "--latency-json", str(latency)]) == 0
    motion = read_bvh(out)
    assert motion.num_frames == 58
    assert motion.frame_time == pytest.approx(0.1, rel=1e-3)
    assert json.loads(latency.read_text())["skipped_lines"] == 2
    err = capsys.readouterr().err
    assert "line 41" in err and "skipped        2" in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_live_writes_its_recording_and_latencies_when_signalled(tmp_path, sig):
    import socket

    model = _causal_model(tmp_path)
    out = tmp_path / "live.bvh"
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(90)
    process = subprocess.Popen(
        [sys.executable, "-m", "poselift", "live", "--source", "-", "--model", str(model), "--record", str(out),
         "--no-flip", "--vmc", f"127.0.0.1:{receiver.getsockname()[1]}"],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    try:
        process.stdin.write("\n".join(_lines(20)) + "\n")
        process.stdin.flush()
        for _ in range(20):  # every frame has been lifted and sent; stdin stays open, the session goes on
            receiver.recvfrom(65536)
    finally:
        receiver.close()
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert "Traceback" not in err
    assert read_bvh(out).num_frames == 20, err
    assert "median ms" in err and "20 frames recorded" in err


# ----------------------------------------------------------------------------------------------- websocket


def test_websocket_server_checks_origin_and_binds_loopback():
    pytest.importorskip("websockets")
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    from poselift.export.websocket import PoseServer, origin_allowed, parse_server_address

    assert parse_server_address("0") == ("127.0.0.1", 8765)
    assert parse_server_address(":0") == ("127.0.0.1", 0)
    with pytest.raises(InputError, match="allow-remote"):
        PoseServer("0.0.0.0", 0)
    assert origin_allowed(None) and origin_allowed("null") and origin_allowed("http://localhost:3000")
    assert not origin_allowed("https://evil.example") and origin_allowed("https://ok.example", ("https://ok.example",))
    assert not origin_allowed("http://attacker.example:8765", host="attacker.example:8765")  # DNS rebinding
    with PoseServer("0", 0) as server:
        assert server.address[0] == "127.0.0.1"
        url = f"ws://127.0.0.1:{server.address[1]}/"
        with pytest.raises(InvalidStatus):
            connect(url, origin="https://evil.example").close()
        assert server.refused == 1
        connect(url, origin="null").close()
        connect(url).close()


def test_lifter_refuses_a_roll_angle_that_is_not_a_number_or_out_of_range():
    from poselift.inference import Lifter
    from poselift.models.registry import create_model

    model = create_model("atcn_27f")
    for bad in (float("nan"), -1.0, 91.0):
        with pytest.raises(InputError, match="roll_tta"):
            Lifter(model, roll_tta=bad)

