"""The pose WebSocket server: a Python client and headless Chromium (the viewer's live mode) receive frames."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("websockets")

from poselift.export.websocket import PoseServer, pose_message  # noqa: E402


def test_pose_message_format():
    joints = np.arange(51, dtype=float).reshape(17, 3) / 7
    message = json.loads(pose_message(joints, 4, 0.123456))
    assert message["type"] == "pose" and message["frame"] == 4 and message["time"] == 0.1235
    assert message["space"] == "world"
    np.testing.assert_allclose(message["joints"], joints, atol=5e-4)


def test_clients_receive_broadcast_poses():
    from websockets.sync.client import connect

    with PoseServer("127.0.0.1", 0) as server:
        host, port = server.address
        assert host == "127.0.0.1"
        with connect(f"ws://127.0.0.1:{port}/") as client:
            deadline = time.monotonic() + 5
            while server.num_clients < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            for frame in range(5):
                assert server.send_pose(np.full((17, 3), frame, dtype=float), frame, frame / 30) == 1
            got = [json.loads(client.recv(timeout=5)) for _ in range(5)]
        assert [m["frame"] for m in got] == list(range(5))
        assert got[3]["joints"][0] == [3.0, 3.0, 3.0]


def test_a_slow_client_drops_old_frames_instead_of_blocking():
    with PoseServer("127.0.0.1", 0, client_queue=2) as server:
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{server.address[1]}/") as client:
            deadline = time.monotonic() + 5
            while server.num_clients < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            for frame in range(2000):  # the client does not read while we send
                server.send_pose(np.zeros((17, 3)), frame, 0.0)
            assert max(outbox.qsize() for outbox in server._clients) <= 2
            # The newest frame always gets through: when a queue is full, its oldest frames are dropped.
            frames = []
            while not frames or frames[-1] < 1999:
                frames.append(json.loads(client.recv(timeout=5))["frame"])
            assert frames == sorted(frames)


def test_http_get_serves_the_live_viewer():
    with PoseServer("127.0.0.1", 0) as server:
        port = server.address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            page = response.read().decode()
            assert response.headers["Content-Type"].startswith("text/html")
        assert "poselift-live" in page and "pushFrame" in page
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing", timeout=5)


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.browser
def test_viewer_live_mode_receives_frames_in_headless_chromium(tmp_path):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("chromium is not installed")
    with PoseServer("127.0.0.1", 0) as server:
        port = server.address[1]
        stop = threading.Event()

        def pump():
            frame = 0
            while not stop.is_set() and frame < 2000:
                server.send_pose(np.random.default_rng(frame).normal(size=(17, 3)), frame, frame / 30)
                frame += 1
                time.sleep(1 / 60)

        thread = threading.Thread(target=pump)
        thread.start()
        received, result = 0, None
        try:
            # Virtual time can run ahead of a real socket on a busy machine: retry with a longer budget.
            for attempt in range(3):
                result = subprocess.run(
                    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={tmp_path / f'profile{attempt}'}",
                     f"--virtual-time-budget={3000 * (attempt + 1)}", "--dump-dom", f"http://127.0.0.1:{port}/"],
                    capture_output=True, text=True, timeout=60,
                )
                match = re.search(r'<body[^>]*data-poselift-received="(\d+)"', result.stdout)
                received = int(match.group(1)) if match else 0
                if received:
                    break
        finally:
            stop.set()
            thread.join()
    assert received > 0, result.stdout[-2000:] + result.stderr[-2000:]
