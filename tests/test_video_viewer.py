"""The self-contained viewer page, and the side-by-side render video."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from poselift.export.viewer import ViewerPerson, build_html, write_viewer
from poselift.video.render import LEFT_COLOUR, RIGHT_COLOUR, panel_size, render_video
from poselift.video.synthetic import synthesize_walk

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def clip():
    return synthesize_walk(seconds=1.0, width=320, height=180)


def _people(clip):
    return [ViewerPerson(0, clip.poses_world, np.ones(len(clip.times), bool), np.ones((len(clip.times), 17)))]


def _embedded(page: str) -> dict:
    match = re.search(r'<script id="poselift-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def test_page_is_self_contained_with_the_poses_embedded(clip):
    page = build_html(_people(clip), clip.fps, clip.times, np.array([0, 1.6, -5.5]), {"source": "</script><b>"})
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert not re.search(r"<script[^>]*\ssrc=", page)
    data = _embedded(page)
    assert data["meta"]["source"] == "</script><b>"  # escaped inside, intact once parsed
    assert len(data["people"][0]["joints"]) == len(clip.times)
    np.testing.assert_allclose(data["people"][0]["joints"][5], clip.poses_world[5], atol=5e-4)
    assert data["parents"][16] == 15 and data["fps"] == clip.fps
    for hook in ("window.poselift", "pushFrame", "seek", "currentFrame", "play", "pause"):
        assert hook in page


def test_render_writes_side_by_side_h264_with_skeleton_colours(tmp_path, clip):
    from poselift.video.decode import iter_frames, probe_video

    path = tmp_path / "render.mp4"
    count = len(clip.times)
    stats = render_video(path, None, clip.times, clip.keypoints_2d, np.ones((count, 17)), np.zeros((count, 17), bool),
                         np.ones(count, bool), clip.poses_world, (clip.width, clip.height), clip.camera_position)
    width, height = panel_size((clip.width, clip.height))
    info = probe_video(path)
    assert (info.width, info.height) == (width + height, height) and info.codec == "h264"
    frames = [f.image for f in iter_frames(path)]
    assert len(frames) == count == stats["frames"]
    frame = frames[count // 2].astype(int)
    for colour in (LEFT_COLOUR, RIGHT_COLOUR):
        close = np.abs(frame - colour).sum(-1) < 60
        assert close[:, :width].sum() > 20  # the 2D skeleton
        assert close[:, width:].sum() > 20  # the 3D skeleton


@pytest.mark.parametrize("background", [False, True])
def test_video_writer_keeps_the_pictures_and_their_times(tmp_path, background):
    from poselift.video.decode import iter_frames
    from poselift.video.render import VideoWriter

    frames = []
    for i in range(6):
        image = np.zeros((61, 83, 3), np.uint8)  # odd sizes: cropped to even ones for yuv420p
        image[:, : 10 * (i + 1)] = (200, 30, 30)
        image[:, 10 * (i + 1) :] = (20, 180, 60)
        frames.append(image)
    with VideoWriter(tmp_path / "v.mp4", 83, 61, 30.0, preset="ultrafast", background=background) as writer:
        for i, image in enumerate(frames):
            writer.write(image, time=i * 0.05)  # 20 fps worth of timestamps, kept
    decoded = list(iter_frames(tmp_path / "v.mp4"))
    assert len(decoded) == 6 and decoded[0].image.shape == (60, 82, 3)
    np.testing.assert_allclose([f.time for f in decoded], np.arange(6) * 0.05, atol=2e-3)
    for got, image in zip(decoded, frames, strict=True):
        assert np.abs(got.image.astype(int) - image[:60, :82]).mean() < 6


def _chromium(tmp_path, page, *extra):
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=800,600",
        "--virtual-time-budget=1500", *extra, page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, cwd=tmp_path)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_viewer_draws_the_skeleton_and_counts_frames_in_chromium(tmp_path, clip):
    from PIL import Image

    page = tmp_path / "viewer.html"
    write_viewer(page, _people(clip), clip.fps, clip.times, clip.camera_position)
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, page, f"--screenshot={shot}")
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    for colour in (LEFT_COLOUR, RIGHT_COLOUR):
        assert (np.abs(pixels - colour).sum(-1) < 40).sum() > 50
    dom = _chromium(tmp_path, page, "--dump-dom").stdout
    match = re.search(r'<span id="counter">frame (\d+) / (\d+)</span>', dom)
    assert match and int(match.group(2)) == len(clip.times) and int(match.group(1)) >= 1


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_frames_pushed_at_run_time_are_shown(tmp_path, clip):
    page = tmp_path / "live.html"
    html = build_html([], 30.0)
    driver = (
        "<script>var p = window.poselift; p.live = true; p.pause();"
        f"var pose = {json.dumps(clip.poses_world[0].round(3).tolist())};"
        "for (var i = 0; i < 3; i++) p.pushFrame(pose);"
        "p.pushFrame({people: [{id: 4, joints: pose}]});"
        "p.seek(2);"
        "document.body.setAttribute('data-test', p.frames.length + ':' + p.currentFrame);</script></body>"
    )
    page.write_text(html.replace("</body>", driver))
    dom = _chromium(tmp_path, page, "--dump-dom").stdout
    assert 'data-test="4:2"' in dom
    assert '<span id="counter">frame 3 / 4</span>' in dom


class _DevTools:
    """Headless Chromium driven over the DevTools protocol: real mouse events, not calls into the page."""

    def __init__(self, tmp_path, page):
        import time
        import urllib.request

        from websockets.sync.client import connect

        profile = tmp_path / "cdp-profile"
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=800,600", page.as_uri()],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.time() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.time() < deadline and self.process.poll() is None, "chromium did not start"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        while True:
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                break
            assert time.time() < deadline
            time.sleep(0.1)
        self._connection = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        self.socket = self._connection.__enter__()  # the context manager form, closed in close()
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == self.next_id:
                return message.get("result", {})

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def mouse(self, kind: str, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1,
                  buttons=0 if kind == "mouseReleased" else 1)

    def close(self) -> None:
        self._connection.__exit__(None, None, None)
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_dragging_and_clicking_the_scrub_slider_seeks(tmp_path, clip):
    import time

    page = tmp_path / "viewer.html"
    write_viewer(page, _people(clip), clip.fps, clip.times, clip.camera_position)
    browser = _DevTools(tmp_path, page)
    try:
        deadline = time.time() + 30
        while browser.evaluate("document.body && document.body.getAttribute('data-poselift-ready')") != "1":
            assert time.time() < deadline
            time.sleep(0.1)
        rect = browser.evaluate("(function(){var r = document.getElementById('scrub').getBoundingClientRect();"
                                "return [r.left, r.top, r.width, r.height];})()")
        left, top, width, height = rect
        y = top + height / 2
        last = len(clip.times) - 1
        # Press near the start, drag to three quarters, release.
        browser.mouse("mousePressed", left + 0.1 * width, y)
        for fraction in (0.3, 0.5, 0.75):
            browser.mouse("mouseMoved", left + fraction * width, y)
        browser.mouse("mouseReleased", left + 0.75 * width, y)
        time.sleep(0.3)  # playback would move on from here if it had not been paused
        dragged = browser.evaluate("[window.poselift.currentFrame, window.poselift.playing, "
                                   "Number(document.getElementById('scrub').value)]")
        assert dragged[1] is False
        assert abs(dragged[0] - 0.75 * last) <= 0.06 * last and dragged[2] == dragged[0]
        # A click elsewhere on the track seeks there too.
        browser.mouse("mousePressed", left + 0.25 * width, y)
        browser.mouse("mouseReleased", left + 0.25 * width, y)
        clicked = browser.evaluate("window.poselift.currentFrame")
        assert abs(clicked - 0.25 * last) <= 0.06 * last
    finally:
        browser.close()


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_every_person_has_a_colour_and_one_can_be_shown_alone(tmp_path, clip):
    from PIL import Image

    count = len(clip.times)
    second_valid = np.arange(count) >= count // 2
    people = _people(clip) + [ViewerPerson(7, clip.poses_world + [1.0, 0, 0], second_valid, np.ones((count, 17)))]
    page = tmp_path / "viewer.html"
    write_viewer(page, people, clip.fps, clip.times, clip.camera_position)
    data = _embedded(page.read_text())
    assert data["people"][1]["start"] == count // 2 and len(data["people"][1]["joints"]) == count - count // 2
    green = np.array([40, 200, 90])  # the second person's left side
    shots = {}
    for name, script in (("both", f"p.pause(); p.seek({count - 1});"),
                         ("first", f"p.pause(); p.seek({count - 1}); p.show(0);")):
        html = page.read_text().replace("</body>", f"<script>var p = window.poselift; {script}</script></body>")
        (tmp_path / f"{name}.html").write_text(html)
        shot = tmp_path / f"{name}.png"
        _chromium(tmp_path, tmp_path / f"{name}.html", f"--screenshot={shot}")
        pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
        shots[name] = (np.abs(pixels - green).sum(-1) < 40).sum()
    assert shots["both"] > 50 and shots["first"] < 5
