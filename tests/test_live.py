"""Live mode: JSON keypoints on stdin -> causal lifting -> VMC / WebSocket / BVH, with latencies."""

from __future__ import annotations

import io
import json
import socket
import threading

import numpy as np
import pytest

from poselift.cli import main
from poselift.data.bvh import read_bvh
from poselift.errors import InputError
from poselift.export import osc
from poselift.export.rig import STANDARD_LENGTHS, rest_pose
from poselift.export.vmc import decode_frame
from poselift.export.world import camera_to_world
from poselift.live import Frame2D, LatencyLog, LivePoser, keypoint_lines, parse_keypoint_line, run_live


def test_parse_keypoint_line_pixels_and_normalised():
    pixels = np.tile([[320.0, 240.0]], (17, 1))
    got = parse_keypoint_line(json.dumps({"keypoints": pixels.tolist(), "width": 640, "height": 480}))
    np.testing.assert_allclose(got, np.tile([[0.0, 0.0]], (17, 1)))  # image centre, VideoPose3D normalisation
    normalised = np.linspace(-1, 1, 34).reshape(17, 2)
    np.testing.assert_allclose(parse_keypoint_line(json.dumps({"keypoints": normalised.tolist()})), normalised)


@pytest.mark.parametrize("line,problem", [
    ("not json", "line 3: not JSON"),
    ('{"keypoints": [[1, 2]]}', "expected 17 keypoints"),
    ('{"keypoints": "x"}', "keypoints"),
    (json.dumps({"keypoints": [[1, 2]] * 17, "width": 0, "height": 4}), "positive"),
])
def test_parse_keypoint_line_errors(line, problem):
    with pytest.raises(InputError, match=problem):
        parse_keypoint_line(line, "<stdin>", 3)


def test_keypoint_lines_times_and_blank_lines():
    lines = [json.dumps({"keypoints": [[0.0, 0.0]] * 17}), "", json.dumps({"keypoints": [[0.0, 0.0]] * 17,
                                                                          "time": 7.5})]
    frames = list(keypoint_lines(io.StringIO("\n".join(lines) + "\n"), fps=10))
    assert [f.time for f in frames] == [0.0, 7.5]


def stand_in_push():
    """A stand-in for LiftStream.push: a T-pose in the camera frame whose left arm follows the input x."""
    rest = rest_pose(STANDARD_LENGTHS)
    camera = camera_to_world(rest - rest[0])

    def push(frame_2d: np.ndarray) -> np.ndarray:
        pose = camera.copy()
        pose[13, 1] -= 0.2 * float(frame_2d[0, 0])  # the wrist moves up and down
        return pose

    return push


def test_run_live_sends_every_frame_over_vmc_and_records():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5.0)
    packets: list = []

    def listen():
        try:
            while len(packets) < 12:
                packets.append(decode_frame(osc.decode(receiver.recvfrom(65536)[0])))
        except OSError:
            pass

    thread = threading.Thread(target=listen)
    thread.start()
    from poselift.export.vmc import VmcSender

    frames = [Frame2D(np.full((17, 2), np.sin(t / 3)), t / 30, 0.001) for t in range(12)]
    seen = []
    with VmcSender("127.0.0.1", receiver.getsockname()[1]) as vmc:
        result = run_live(frames, stand_in_push(), vmc=vmc, record=True,
                          on_pose=lambda i, joints: seen.append(joints))
    thread.join(timeout=10)
    receiver.close()
    assert result.frames == 12 and result.poses.shape == (12, 17, 3)
    assert len(packets) == 12 and all(len(p["bones"]) == 19 for p in packets)
    # The world joints stand on the floor, and the left hand's rotation changes with the input.
    assert min(j[[3, 6], 1].min() for j in seen) > 0
    hands = np.array([p["bones"]["LeftLowerArm"][1] for p in packets])
    assert np.ptp(hands, axis=0).max() > 0.01
    summary = result.latency.summary()
    assert summary["lift"]["frames"] == 12 and summary["detect"]["median_ms"] == pytest.approx(1.0)
    assert "total" in result.latency.table()


def test_live_poser_calibrates_bone_lengths_once():
    poser = LivePoser(calibration_frames=3)
    rest = rest_pose(STANDARD_LENGTHS * 1.1)
    pose = camera_to_world(rest - rest[0])
    for _ in range(3):
        joints, hips, local = poser.update(pose)
    assert poser.calibrated
    np.testing.assert_allclose(poser.rig.lengths, STANDARD_LENGTHS * 1.1, atol=1e-9)
    np.testing.assert_allclose(local, np.broadcast_to(np.eye(3), local.shape), atol=1e-9)  # a T-pose
    assert joints[[3, 6], 1].min() == pytest.approx(poser.rig.ankle_height)
    np.testing.assert_allclose(hips[[0, 2]], 0.0)


def test_latency_log_summary():
    log = LatencyLog(detect=[0.0] * 100, lift=list(np.linspace(0.001, 0.1, 100)), send=[0.002] * 100)
    summary = log.summary()
    assert summary["lift"]["median_ms"] == pytest.approx(50.5)
    assert summary["lift"]["p99_ms"] > 98
    assert summary["total"]["median_ms"] == pytest.approx(52.5)


def test_cli_live_from_stdin_end_to_end(tmp_path, monkeypatch, capsys):
    """The real path: a (random-weight, tiny) causal model file, stdin JSON lines, VMC + recording."""
    pytest.importorskip("torch")
    from poselift.models.registry import create_model
    from poselift.models.weights import save_weights

    model = tmp_path / "causal.safetensors"
    save_weights(create_model("atcn_27f_causal"), model, {"fps": 50})
    rng = np.random.default_rng(0)
    base = rng.uniform(200, 400, size=(17, 2))
    lines = [json.dumps({"keypoints": (base + rng.normal(scale=2, size=(17, 2))).tolist(), "width": 640,
                         "height": 480}) for _ in range(15)]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    out, latency = tmp_path / "live.bvh", tmp_path / "latency.json"
    code = main(["live", "--source", "-", "--model", str(model), "--vmc", f"127.0.0.1:{receiver.getsockname()[1]}",
                 "--record", str(out), "--smooth", "--no-flip", "--latency-json", str(latency)])
    receiver.settimeout(0.5)
    received = 0
    try:
        while True:
            receiver.recvfrom(65536)
            received += 1
    except OSError:
        pass
    receiver.close()
    assert code == 0
    assert received == 15
    assert read_bvh(out).num_frames == 15
    summary = json.loads(latency.read_text())
    assert summary["lift"]["frames"] == 15
    err = capsys.readouterr().err
    assert "live: 15 frames" in err and "median ms" in err


def test_cli_live_rejects_a_non_causal_model(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    from poselift.models.registry import create_model
    from poselift.models.weights import save_weights

    model = tmp_path / "offline.safetensors"
    save_weights(create_model("atcn_27f"), model, {})
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["live", "--source", "-", "--model", str(model)]) == 2
    assert "causal" in capsys.readouterr().err


def test_video_source_with_a_stand_in_detector(tmp_path):
    """The PyAV path: a small video file, played at its own rate, through a (stand-in) 2D detector."""
    av = pytest.importorskip("av")
    from poselift.live import video_keypoints
    from poselift.video.keypoint_files import Detection
    from poselift.video.layouts import COCO17

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=50)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            image = np.full((48, 64, 3), 20 * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)

    class StandIn:
        layout = COCO17
        calls = 0

        def detect(self, image):
            self.calls += 1
            if self.calls == 3:
                return None  # nobody found: the frame says so (present=False)
            keypoints = np.tile([[32.0, 24.0]], (17, 1)) + np.arange(17)[:, None]
            return Detection(keypoints=keypoints, scores=np.ones(17))

    detector = StandIn()
    frames = list(video_keypoints(str(path), detector))
    assert detector.calls == 10 and len(frames) == 10
    assert [f.present for f in frames] == [True, True, False] + [True] * 7
    frames = [f for f in frames if f.present]
    times = [f.time for f in frames]
    assert times[0] == 0.0 and times[-1] == pytest.approx(9 / 50, abs=1e-6)
    assert all(f.keypoints.shape == (17, 2) and np.abs(f.keypoints).max() < 1.5 for f in frames)
    assert all(f.confidence is not None and f.confidence.shape == (17,) for f in frames)
    with pytest.raises(InputError, match="no such file"):
        list(video_keypoints(str(tmp_path / "missing.mp4"), detector))


def test_nobody_and_phantoms_are_not_streamed_and_vmc_says_so():
    """Frames without a person, and a 'person' whose skeleton jumps, send /VMC/Ext/OK 0 and no bones; a real
    person is streamed once seen plausibly for most of a second, and the stream restarts clean after a gap."""
    from poselift.export import osc
    from poselift.export.vmc import decode_frame
    from poselift.live import Frame2D, run_live
    from poselift.video.plausibility import PersonGate
    from poselift.video.synthetic import synthesize_walk

    clip = synthesize_walk(seconds=3.0)
    walk = clip.keypoints_2d / 320.0 - [1.0, 0.5625]
    rng = np.random.default_rng(0)
    frames = [Frame2D(np.zeros((17, 2)), t / 30, present=False) for t in range(15)]              # empty room
    frames += [Frame2D(rng.uniform(-1, 1, (17, 2)), (15 + t) / 30) for t in range(30)]         # a phantom
    frames += [Frame2D(walk[t], (45 + t) / 30) for t in range(60)]                             # a person
    frames += [Frame2D(np.zeros((17, 2)), (105 + t) / 30, present=False) for t in range(10)]   # gone again

    class Recorder:
        def __init__(self):
            self.packets = []

        def send(self, rig, hips, local):
            from poselift.export.vmc import frame_bundle

            self.packets.append(decode_frame(osc.decode(osc.encode(frame_bundle(rig, hips, local, 0.0)))))

        def send_absent(self):
            from poselift.export.vmc import absent_bundle

            self.packets.append(decode_frame(osc.decode(osc.encode(absent_bundle(0.0)))))

    resets, pushed = [], []
    vmc = Recorder()
    result = run_live(frames, lambda kp: pushed.append(kp) or np.zeros((17, 3)) + 0.1 * np.arange(17)[:, None],
                      vmc=vmc, gate=PersonGate(), reset=lambda: resets.append(1))
    ok = [p["ok"] for p in vmc.packets]
    assert ok[:45] == [0] * 45 and all(not p["bones"] for p in vmc.packets[:45])  # nobody, then a phantom
    assert 30 <= ok[45:105].count(1) <= 60 and ok[45:105][-1] == 1                  # the walker, after ~0.8 s
    assert ok[105:] == [0] * 10
    assert result.frames == len(pushed) == ok.count(1) and len(resets) >= 2
