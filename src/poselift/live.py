"""Live 3D poses: 2D keypoints in (camera, video, network stream or JSON lines), avatars moving out.

Each 2D frame goes through the causal lifter frame by frame (`Lifter.stream()`), optionally a One-Euro
filter, then to a rig: Y-up world joints on the floor and joint rotations. Every pose is sent as soon as
it is made: VMC over UDP (avatar apps), JSON over WebSocket (the viewer), and optionally kept to write a
BVH at the end. Per-frame latency of each stage (2D detection, lifting, sending) is measured.

Live specifics: the rig starts from standard bone lengths and switches, once, to the medians of the
first `calibration_frames` poses; with no trajectory the hips stay above the origin, at the height that
puts the lower ankle at ankle height above the floor in every frame.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from poselift.errors import InputError
from poselift.export.rig import STANDARD_LENGTHS, build_rig, retarget, symmetric_bone_lengths
from poselift.export.rotations import solve_rotations
from poselift.export.world import camera_to_world
from poselift.keypoints_io import json_number, parse_keypoint_line
from poselift.video.decode import open_video

STAGES = ("detect", "lift", "send")


@dataclass
class Frame2D:
    """One 2D input frame: keypoints (17, 2) normalised screen coordinates, time (s), detection time (s)."""

    keypoints: np.ndarray
    time: float
    detect_seconds: float = 0.0
    confidence: np.ndarray | None = None
    """(17,) the detector's confidence per joint, when it gives one."""
    present: bool = True
    """False for a frame in which the detector found nobody (keypoints are then meaningless)."""


@dataclass
class LatencyLog:
    """Per-frame seconds spent in each stage (lists of floats)."""

    detect: list[float] = field(default_factory=list)
    lift: list[float] = field(default_factory=list)
    send: list[float] = field(default_factory=list)
    skipped: int = 0
    """Input lines (or frames) that were malformed and skipped."""

    def summary(self) -> dict[str, dict[str, float]]:
        """Per stage and in total: frames, median and 99th percentile in milliseconds."""
        out = {}
        stages = {name: np.asarray(getattr(self, name)) for name in STAGES}
        if len(stages["lift"]):
            stages["total"] = sum(stages[name] for name in STAGES)
        for name, values in stages.items():
            if len(values):
                out[name] = {"frames": int(len(values)), "median_ms": float(np.median(values) * 1e3),
                             "p99_ms": float(np.percentile(values, 99) * 1e3)}
        return out

    def table(self) -> str:
        """A small text table of summary()."""
        lines = [f"{'stage':<8} {'frames':>7} {'median ms':>10} {'p99 ms':>8}"]
        for name, row in self.summary().items():
            lines.append(f"{name:<8} {row['frames']:>7} {row['median_ms']:>10.2f} {row['p99_ms']:>8.2f}")
        lines.append(f"{'skipped':<8} {self.skipped:>7}  malformed input lines")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------- sources


def keypoint_lines(
    stream: IO[str], fps: float = 30.0, source: str = "<stdin>",
    on_bad_line: Callable[[InputError], None] | None = None,
) -> Iterator[Frame2D]:
    """Frames from JSON lines (see parse_keypoint_line), as they arrive; an optional "time" key (seconds, each
    later than the last) gives each frame's time, else frame number / fps. Blank lines are skipped. A malformed
    line raises InputError naming it, or, with `on_bad_line`, is passed to it and skipped."""
    index = 0
    last_time = -np.inf
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            keypoints = parse_keypoint_line(line, source, number)
            item = json.loads(line)
            stamp = item.get("time") if isinstance(item, dict) else None
            stamp = index / fps if stamp is None else json_number(stamp, source, f"line {number}: time")
            if not stamp > last_time:
                raise InputError(source, f"line {number}: time {stamp:g} is not after the previous frame's "
                                         f"{last_time:g}")
        except InputError as error:
            if on_bad_line is None:
                raise
            on_bad_line(error)
            continue
        last_time = stamp
        yield Frame2D(keypoints, stamp)
        index += 1


def video_keypoints(source: str, detector: Any | None = None) -> Iterator[Frame2D]:
    """Frames from a camera/file/URL through the 2D detector (poselift.video.detector), converted to the
    Human3.6M layout; a file plays at its own rate. A frame where nobody is found comes with present=False."""
    from poselift.camera import normalize_screen_coordinates
    from poselift.video.layouts import to_h36m

    if detector is None:
        from poselift.video.detector import PoseDetector

        detector = PoseDetector()
    container, realtime = open_video(source)
    try:
        stream = container.streams.video[0]
        start_wall, first_pts = time.perf_counter(), None
        for frame in container.decode(stream):
            stamp = float(frame.time) if frame.time is not None else 0.0
            if first_pts is None:
                first_pts = stamp
            stamp -= first_pts
            if not realtime:
                delay = stamp - (time.perf_counter() - start_wall)
                if delay > 0:
                    time.sleep(delay)
            image = frame.to_ndarray(format="rgb24")
            t0 = time.perf_counter()
            detection = detector.detect(image)
            detect_seconds = time.perf_counter() - t0
            if detection is None:
                yield Frame2D(np.zeros((17, 2)), stamp, detect_seconds, present=False)
                continue
            xy, scores = to_h36m(detection.keypoints, detection.scores, detector.layout)
            height, width = image.shape[:2]
            yield Frame2D(normalize_screen_coordinates(xy, width, height), stamp, detect_seconds, scores)
    finally:
        container.close()


# ----------------------------------------------------------------------------------------------- poser


class LivePoser:
    """Camera-frame poses (17, 3) -> world joints on the floor (17, 3), hips position (3,) and the rig's
    local rotations (J, 3, 3), one frame at a time, with limb twists kept continuous across frames."""

    def __init__(self, naming: str = "humanoid", calibration_frames: int = 30):
        self.naming = naming
        self.calibration_frames = calibration_frames
        self.rig = build_rig(STANDARD_LENGTHS, naming)
        self.calibrated = calibration_frames <= 0
        self._seen: list[np.ndarray] = []
        self._state: dict[int, float] = {}

    def update(self, pose_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One pose (17, 3) metres, camera frame (root-relative) -> (joints, hips, local rotations)."""
        world = camera_to_world(np.asarray(pose_camera, dtype=np.float64)[None])
        if not self.calibrated:
            self._seen.append(world[0])
            if len(self._seen) >= self.calibration_frames:
                self.rig = build_rig(symmetric_bone_lengths(np.stack(self._seen)), self.naming)
                self.calibrated, self._seen = True, []
        joints = retarget(world, self.rig.lengths, self.rig.rest)
        joints[..., 1] -= joints[0, [3, 6], 1].min() - self.rig.ankle_height
        joints[..., [0, 2]] -= joints[0, 0, [0, 2]]
        _, local = solve_rotations(self.rig, joints, self._state)
        return joints[0], joints[0, 0].copy(), local[0]


# ------------------------------------------------------------------------------------------------ loop


@dataclass
class LiveResult:
    """What a live run did: frames sent, the lifted poses kept for recording (T, 17, 3), latencies, and the
    source's frame rate (from the frames' times; the given rate when there were fewer than two)."""

    frames: int
    poses: np.ndarray
    latency: LatencyLog
    fps: float


@dataclass
class LiveSession:
    """A live run's state so far, kept outside the loop: whatever ends the run, its poses can still be recorded."""

    latency: LatencyLog = field(default_factory=LatencyLog)
    poses: list[np.ndarray] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    frames: int = 0

    def source_fps(self, default: float) -> float:
        """Frames per second of the source, from the median interval of the frames' times (else `default`)."""
        steps = np.diff(np.asarray(self.times, dtype=np.float64))
        steps = steps[np.isfinite(steps) & (steps > 0)]
        if steps.size == 0:
            return float(default)
        return float(min(1000.0, 1.0 / float(np.median(steps))))

    def result(self, fps: float) -> LiveResult:
        """The LiveResult of what has been done (poses (T, 17, 3) when recording)."""
        poses = np.stack(self.poses) if self.poses else np.zeros((0, 17, 3))
        return LiveResult(frames=self.frames, poses=poses, latency=self.latency, fps=self.source_fps(fps))


def run_live(
    frames: Iterable[Frame2D],
    push: Callable[[np.ndarray], np.ndarray],
    *,
    vmc: Any | None = None,
    ws: Any | None = None,
    smooth: Any | None = None,
    record: bool = False,
    naming: str = "humanoid",
    fps: float = 30.0,
    max_frames: int | None = None,
    on_pose: Callable[[int, np.ndarray], None] | None = None,
    session: LiveSession | None = None,
    gate: Any | None = None,
    reset: Callable[[], None] | None = None,
) -> LiveResult:
    """Lift and send frames as they come. push: (17, 2) -> (17, 3) (a LiftStream's push); vmc: a VmcSender;
    ws: a PoseServer; smooth: a OneEuroFilter; record: keep the (filtered) poses for a BVH; session: where the
    poses and latencies go as they are made (pass one to keep them when something else ends the run); gate:
    a poselift.video.plausibility.PersonGate: while it sees nobody who looks like a person (and for any frame
    without a person) nothing is lifted, recorded or sent but /VMC/Ext/OK 0, and `reset` (the stream's) is
    called so that a person who comes back starts from a clean window.
    Stops at the end of the frames, after max_frames, or on KeyboardInterrupt (Ctrl-C)."""
    poser = LivePoser(naming=naming)
    session = LiveSession() if session is None else session
    log = session.latency
    kept = session.poses
    count = session.frames
    try:
        streaming = True
        for item in frames:
            there = item.present and (gate is None or gate.update(item.keypoints, item.confidence, True, item.time))
            if gate is not None and not item.present:
                gate.update(item.keypoints, None, False, item.time)
            if not there:
                if vmc is not None:
                    vmc.send_absent()
                if streaming and reset is not None:
                    reset()
                streaming = False
                continue
            streaming = True
            t0 = time.perf_counter()
            pose = np.asarray(push(item.keypoints), dtype=np.float64)
            if smooth is not None:
                pose = smooth(pose, item.time)
            t1 = time.perf_counter()
            if record:  # kept before sending: a frame anyone has seen is in the recording, whatever ends the run
                kept.append(pose)
            session.times.append(item.time)
            count += 1
            session.frames = count
            joints, hips, local = poser.update(pose)
            if vmc is not None:
                vmc.send(poser.rig, hips, local)
            if ws is not None:
                ws.send_pose(joints, count - 1, item.time)
            t2 = time.perf_counter()
            log.detect.append(item.detect_seconds)
            log.lift.append(t1 - t0)
            log.send.append(t2 - t1)
            if on_pose is not None:
                on_pose(count - 1, joints)
            if max_frames is not None and count >= max_frames:
                break
    except KeyboardInterrupt:
        pass
    return session.result(fps)
