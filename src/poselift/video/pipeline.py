"""Video in, 3D out: decode -> 2D keypoints (detector or file) -> tracks -> gap filling -> lifting at the
model's frame rate -> global trajectory and floor -> files (npz, json, render.mp4, viewer.html).

`process_video` is the library entry point; `poselift video` is a thin wrapper around it. Nothing is
written before every computation has succeeded, and each file is written atomically.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poselift.atomic import save_npz_atomic, write_text_atomic
from poselift.body_size import ADULT_HEIGHT, check_height, scale_to_height
from poselift.camera import normalize_screen_coordinates
from poselift.errors import InputError
from poselift.skeleton import H36M17
from poselift.video.gaps import CleanTrack, clean_track
from poselift.video.keypoint_files import Detection, KeypointFile, read_keypoints
from poselift.video.layouts import to_h36m
from poselift.video.plausibility import MIN_PERSON_SECONDS, check_person
from poselift.video.resample import is_uniform, resample, uniform_times
from poselift.video.tracking import Track, track_people
from poselift.video.trajectory import (
    GroundFrame,
    default_focal,
    fit_ground_people,
    ground_feet,
    smooth_trajectory,
    solve_trajectory,
)

KEYPOINT_SUFFIXES = (".json", ".npz")
DETECTORS = ("multi", "single")
DEFAULT_MODEL_FPS = 30.0

COORDINATE_FRAMES = {
    "camera": "poses_3d and trajectory: camera frame, x right, y down, z forward (optical axis), metres; "
              "poses_3d are root-relative (pelvis at the origin), trajectory is the pelvis position",
    "world": "poses_world: y up, floor at y = 0 (fitted), origin on the floor under the first pelvis "
             "position, x along the camera's x axis projected on the floor, z = x cross y (towards the "
             "camera), metres; world_from_camera maps camera points to it",
}


@dataclass
class PersonResult:
    """One lifted person: arrays over all T frames of the video."""

    id: int
    keypoints_2d: np.ndarray
    """(T, 17, 2) pixels, gaps filled."""
    confidence: np.ndarray
    """(T, 17) in [0, 1]; 0 where flagged or not valid."""
    valid: np.ndarray
    """(T,) bool."""
    flagged: np.ndarray
    """(T, 17) bool: joints never seen there (synthesised, e.g. legs out of the picture)."""
    interpolated: np.ndarray
    """(T, 17) bool."""
    poses_3d: np.ndarray
    """(T, 17, 3) root-relative metres, camera frame."""
    trajectory: np.ndarray
    """(T, 3) root position, camera frame, metres."""
    poses_world: np.ndarray | None = None
    """(T, 17, 3) world metres (Y up), after the floor fit."""


@dataclass
class VideoResult:
    """What process_video produced: the main person's arrays, other people, files and timings."""

    out_dir: Path
    files: dict[str, Path]
    times: np.ndarray
    """(T,) seconds of each video frame."""
    fps: float
    """The video's frame rate estimate (frames/s)."""
    model_fps: float
    image_size: tuple[int, int]
    focal: float
    person: PersonResult
    people: list[PersonResult]
    track_ids: list[int]
    ground: GroundFrame
    stage_seconds: dict[str, float] = field(default_factory=dict)
    speeds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    detections: list[list[Detection]] = field(default_factory=list)
    """Per frame, every detection in the source layout, as the detector or file gave it (before tracking)."""

    @property
    def num_frames(self) -> int:
        return len(self.times)

    def summary(self) -> str:
        """A few human-readable lines: frames, people, timings per stage, outputs."""
        p = self.person
        lines = [
            f"frames: {self.num_frames} at {self.fps:.2f} fps ({self.times[-1]:.1f} s), image "
            f"{self.image_size[0]}x{self.image_size[1]}, focal {self.focal:.0f} px; model at {self.model_fps:g} fps",
            f"people: {len(self.track_ids)} track(s) {self.track_ids}; lifted {[q.id for q in self.people]}, "
            f"main person {p.id}: valid in {int(p.valid.sum())}/{self.num_frames} frames, "
            f"{int(p.flagged.any(axis=1).sum())} frames with flagged joints",
            f"floor: {self.ground.method} ({self.ground.contacts} foot contacts)",
            "time per stage: " + ", ".join(f"{k} {v:.2f} s" for k, v in self.stage_seconds.items()),
        ]
        if self.speeds:
            lines.append("speed: " + ", ".join(f"{k} {v:.1f} frames/s" for k, v in self.speeds.items()))
        lines.extend(f"note: {n}" for n in self.notes)
        lines.append(f"outputs in {self.out_dir}: " + ", ".join(sorted(f.name for f in self.files.values())))
        return "\n".join(lines)


def _progress(total: int | None, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=None if enabled else True, leave=False)


@contextmanager
def _stage(seconds: dict[str, float], name: str):
    start = time.perf_counter()
    yield
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start


def _is_keypoint_source(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() in KEYPOINT_SUFFIXES


def make_lifter(model=None):
    """A Lifter for `model` (a name, a weights file, or None for the shipped default)."""
    from poselift.inference import Lifter

    return Lifter(model)


def _detect(video: Path, num_frames: int | None, progress: bool, speeds: dict[str, float], detector: str = "multi"):
    """Run the built-in detector over the video: (frames of detections, times, layout). `detector`: "multi"
    (every person, video/multi_detector.py) or "single" (BlazePose's own tracking, one person)."""
    from poselift.video.decode import iter_frames
    from poselift.video.detector import INSTALL_HINT, PoseDetector, detector_available
    from poselift.video.multi_detector import MultiPoseDetector

    if not detector_available():
        raise InputError(video, f"no 2D detector to find people in it: {INSTALL_HINT}")
    if detector not in DETECTORS:
        raise InputError(video, f"unknown detector {detector!r}; expected one of {', '.join(DETECTORS)}")
    frames: list[list[Detection]] = []
    times = []
    detect_seconds = 0.0
    start = time.perf_counter()
    model = MultiPoseDetector() if detector == "multi" else PoseDetector()
    with model, _progress(num_frames, "2D detection", progress) as bar:
        for frame in iter_frames(video):
            t0 = time.perf_counter()
            found = model.detect(frame.image)
            detect_seconds += time.perf_counter() - t0
            frames.append(found if isinstance(found, list) else [found] if found is not None else [])
            times.append(frame.time)
            bar.update(1)
        layout = model.layout
    total = time.perf_counter() - start
    count = len(frames)
    speeds["detect"] = count / max(detect_seconds, 1e-9)
    speeds["decode"] = count / max(total - detect_seconds, 1e-9)
    return frames, np.array(times), layout


def _convert(frames: list[list[Detection]], layout) -> list[list[Detection]]:
    """Every detection converted to H36M 17 joints (keypoints pixels, confidences)."""
    out = []
    for detections in frames:
        converted = []
        for det in detections:
            keypoints, scores = to_h36m(det.keypoints, det.scores, layout)
            converted.append(Detection(keypoints, scores, det.track_id, det.score, det.bbox))
        out.append(converted)
    return out


def _align_frames(kp_file: KeypointFile, count: int, notes: list[str]) -> list[list[Detection]]:
    frames = kp_file.frames
    if len(frames) < count:
        notes.append(f"keypoint file has {len(frames)} frames, the video {count}: the rest have nobody")
        frames = frames + [[] for _ in range(count - len(frames))]
    elif len(frames) > count:
        notes.append(f"keypoint file has {len(frames)} frames, the video only {count}: extra frames ignored")
        frames = frames[:count]
    return frames


def _to_pixels(frames: list[list[Detection]], size: tuple[int, int]) -> None:
    from poselift.camera import image_coordinates

    for detections in frames:
        for det in detections:
            det.keypoints = image_coordinates(det.keypoints, *size).astype(np.float64)


def _rescale(frames: list[list[Detection]], sx: float, sy: float) -> None:
    for detections in frames:
        for det in detections:
            det.keypoints = det.keypoints * np.array([sx, sy])
            if det.bbox is not None:
                det.bbox = det.bbox * np.array([sx, sy, sx, sy])


def lift_track(lifter, clean: CleanTrack, times: np.ndarray, image_size: tuple[int, int],
               model_fps: float) -> np.ndarray:
    """Lift a complete 2D track at the model's frame rate and bring it back to the video's timestamps.

    Returns (T, 17, 3) root-relative metres, camera frame.
    """
    width, height = image_size
    keypoints = clean.keypoints
    if is_uniform(times, model_fps):
        grid, grid_keypoints = times, keypoints
    else:
        grid = uniform_times(times, model_fps)
        grid_keypoints = resample(keypoints, times, grid)
    normalised = normalize_screen_coordinates(grid_keypoints, width, height)
    poses = np.asarray(lifter.lift(normalised.astype(np.float32)), dtype=np.float64)
    if grid is not times:
        poses = resample(poses, grid, times)
    return poses - poses[:, :1]


def process_video(
    input: str | Path | None,
    out_dir: str | Path,
    keypoints: str | Path | None = None,
    format: str = "auto",
    layout: str | None = None,
    person: int | None = None,
    all_people: bool = True,
    focal: float | None = None,
    model=None,
    lifter=None,
    render: bool = True,
    viewer: bool = True,
    max_gap: int = 10,
    min_confidence: float = 0.3,
    interpolation: str = "linear",
    image_size: tuple[int, int] | None = None,
    fps: float | None = None,
    progress: bool = True,
    panel_height: int = 480,
    bvh: str | None = None,
    person_height: float | None = ADULT_HEIGHT,
    detector: str = "multi",
    min_person_seconds: float = MIN_PERSON_SECONDS,
) -> VideoResult:
    """Turn a video (or a 2D keypoint file) into 3D poses and write them to `out_dir`.

    `input` is a video, or a keypoint file/folder when there is no video; `keypoints` imports 2D
    keypoints for the video instead of running the detector. `lifter` (anything with `.lift` and `.fps`)
    overrides `model`. Every track that looks like a person (video/plausibility.py: seen for at least
    `min_person_seconds`, or 80 % of a shorter clip) is lifted over its own span, the most important first;
    `person` lifts only that track id, `all_people=False` only the main person. `detector`: "multi" (every
    person) or "single" (BlazePose's one). `bvh` ("humanoid" or "h36m" naming) also writes one BVH per person
    (`person_<id>.bvh`, its valid span) and `animation.bvh` (the main person) for retargeting.
    `person_height` (metres): scale each lifted person to this nominal stature (poselift.body_size), which
    also places them at the matching distance; by default an adult's (ADULT_HEIGHT, 1.70 m); None keeps the
    size the model learnt from its training data.
    Raises InputError (and writes nothing) when the input is unusable or nobody is in it.
    """
    from poselift.video.decode import probe_video, read_timestamps

    out_dir = Path(out_dir)
    seconds: dict[str, float] = {}
    speeds: dict[str, float] = {}
    notes: list[str] = []
    video: Path | None = None
    if input is not None:
        input = Path(input)
        if keypoints is None and input.exists() and _is_keypoint_source(input):
            keypoints = input
        else:
            video = input
    if video is None and keypoints is None:
        raise InputError(None, "nothing to process: give a video or a keypoint file")
    if person_height is not None:
        check_height(person_height)

    # 1. 2D keypoints per frame, in the source layout.
    with _stage(seconds, "2d"):
        info = probe_video(video) if video is not None else None
        if keypoints is not None:
            kp_file = read_keypoints(keypoints, format, layout)
            notes.extend(kp_file.notes)
            source_layout = kp_file.layout
            if info is not None:
                times = read_timestamps(video)
                frames = _align_frames(kp_file, len(times), notes)
                size = (info.width, info.height)
                if kp_file.normalized:
                    _to_pixels(frames, size)
                if kp_file.image_size is not None and tuple(kp_file.image_size) != size:
                    sx, sy = size[0] / kp_file.image_size[0], size[1] / kp_file.image_size[1]
                    _rescale(frames, sx, sy)
                    notes.append(f"keypoints were for {kp_file.image_size[0]}x{kp_file.image_size[1]} "
                                 f"images: scaled to the video's {size[0]}x{size[1]}")
            else:
                frames = kp_file.frames
                size = image_size or kp_file.image_size
                if size is None:
                    raise InputError(keypoints, "the image size is unknown: pass the video too, or --image-size")
                if kp_file.normalized:
                    _to_pixels(frames, size)
                rate = fps or kp_file.fps or DEFAULT_MODEL_FPS
                times = np.arange(len(frames)) / rate
            source = Path(keypoints)
        else:
            frames, times, source_layout = _detect(video, info.num_frames, progress, speeds)
            size = (info.width, info.height)
            source = video
        if len(times) == 0:
            raise InputError(source, "no frames")
        if image_size is not None and info is not None:
            notes.append("--image-size ignored: the video gives the size")
        from poselift.video.decode import estimate_fps

        video_fps = estimate_fps(times, default=fps or DEFAULT_MODEL_FPS)

    # 2. People: H36M layout, tracks, the people to lift.
    raw_detections = frames
    with _stage(seconds, "track"):
        frames = _convert(frames, source_layout)
        tracks = track_people(frames, max_age=max(1, int(round(video_fps))), fps=video_fps)
        if not tracks:
            raise InputError(source, f"no person found in any of the {len(times)} frames")
        clip_seconds = float(times[-1] - times[0]) if len(times) > 1 else 0.0
        chosen = _choose_tracks(tracks, person, all_people, source, len(times), video_fps,
                                min(min_person_seconds, 0.8 * clip_seconds), min_confidence, notes)

    # 3. Gaps, lifting, trajectory, per person over their own span.
    if lifter is None:
        with _stage(seconds, "load model"):
            lifter = make_lifter(model)
    model_fps = float(getattr(lifter, "fps", None) or DEFAULT_MODEL_FPS)
    focal = float(focal) if focal else default_focal(size[0])
    results: list[PersonResult] = []
    for track in chosen:
        try:
            results.append(_lift_person(track, times, size, focal, lifter, model_fps, video_fps, max_gap,
                                        min_confidence, interpolation, person_height, seconds))
        except ValueError:
            if track is chosen[0] and person is not None:
                raise InputError(source, f"person {track.id} is never seen with confidence >= "
                                         f"{min_confidence}") from None
            notes.append(f"person {track.id} skipped: never seen with confidence >= {min_confidence}")
    if not results:
        raise InputError(source, f"nobody is seen with confidence >= {min_confidence}")
    main = results[0]
    with _stage(seconds, "trajectory"):
        ground = fit_ground_people([(q.poses_3d + q.trajectory[:, None], q.confidence, q.valid) for q in results],
                                   video_fps)
        for q in results:
            q.trajectory = ground_feet(ground, q.poses_3d, q.trajectory, q.confidence, q.valid, video_fps)
            q.poses_world = ground.to_world(q.poses_3d + q.trajectory[:, None])

    result = VideoResult(out_dir, {}, times, video_fps, model_fps, size, focal, main, results,
                         [t.id for t in tracks], ground, seconds, speeds, notes, raw_detections)
    _write_outputs(result, source_layout.name, video, render, viewer, progress, panel_height, bvh)
    return result


def _lift_person(track: Track, times: np.ndarray, size: tuple[int, int], focal: float, lifter, model_fps: float,
                 video_fps: float, max_gap: int, min_confidence: float, interpolation: str,
                 person_height: float | None, seconds: dict[str, float]) -> PersonResult:
    """Clean, lift and place one track over its own span (first to last seen frame); arrays over all T
    frames, NaN (and valid False) outside the frames where the person is valid. Raises ValueError when the
    track has no confident joint."""
    count = len(times)
    keypoints_t, scores_t, present_t = track.dense(count)
    first, last = track.frames[0], min(track.frames[-1], count - 1)
    span = slice(first, last + 1)
    clean = clean_track(keypoints_t[span], scores_t[span], present_t[span], size, max_gap=max_gap,
                        threshold=min_confidence, method=interpolation)
    with _stage(seconds, "lift"):
        if len(clean.valid) >= 2:
            poses = lift_track(lifter, clean, times[span], size, model_fps)
        else:  # one frame: lift it as a still clip of two
            twice = CleanTrack(*(np.concatenate([a, a]) for a in (clean.keypoints, clean.confidence, clean.valid,
                                                                   clean.flagged, clean.interpolated)))
            poses = lift_track(lifter, twice, np.array([0.0, 1.0 / model_fps]), size, model_fps)[:1]
        if person_height is not None:
            poses = scale_to_height(poses, person_height)
    with _stage(seconds, "trajectory"):
        centre = np.array([size[0] / 2, size[1] / 2])
        weights = np.where(clean.flagged, 0.0, np.maximum(clean.confidence, 0.05))  # synthesised joints: none
        raw = solve_trajectory(poses, clean.keypoints, weights, focal, centre)
        raw[~clean.valid] = np.nan
        trajectory = smooth_trajectory(raw, video_fps)

    def full(values: np.ndarray, fill) -> np.ndarray:
        out = np.full((count, *values.shape[1:]), fill, dtype=values.dtype)
        out[span] = values
        return out

    valid = full(clean.valid, False)
    confidence = full(clean.confidence, 0.0)
    confidence[~valid] = 0.0
    flagged = full(clean.flagged, False) & valid[:, None]
    interpolated = full(clean.interpolated, False) & valid[:, None]
    keypoints = full(clean.keypoints, np.nan)
    poses_3d = full(poses, np.nan)
    trajectory = full(trajectory, np.nan)
    for array in (keypoints, poses_3d, trajectory):
        array[~valid] = np.nan
    return PersonResult(track.id, keypoints, confidence, valid, flagged, interpolated, poses_3d, trajectory)


def _choose_tracks(tracks: list[Track], person: int | None, all_people: bool, source: Path, num_frames: int,
                   fps: float, min_seconds: float, min_confidence: float, notes: list[str]) -> list[Track]:
    """The tracks to lift, the main one first: the chosen id alone, else every track that looks like a person
    (video/plausibility.py), most important (size x duration) first; only the main one unless all_people."""
    if person is not None:
        by_id = {t.id: t for t in tracks}
        if person not in by_id:
            raise InputError(source, f"no person with id {person}; ids found: {sorted(by_id)}")
        return [by_id[person]]
    people, rejected = [], []
    for track in sorted(tracks, key=lambda t: -t.importance):
        keypoints, scores, present = track.dense(num_frames)
        check = check_person(keypoints, scores, present, fps, min_seconds=min_seconds, threshold=min_confidence)
        (people if check.is_person else rejected).append((track, check))
    if rejected:
        notes.append(f"{len(rejected)} track(s) not lifted (not a person long enough): "
                     + "; ".join(f"{t.id}: {', '.join(c.reasons)}" for t, c in rejected[:5])
                     + (" ..." if len(rejected) > 5 else ""))
    if not people:
        raise InputError(source, f"no track looks like a person ({len(tracks)} track(s): "
                                 f"{'; '.join(', '.join(c.reasons) for _, c in rejected[:3])})")
    chosen = [t for t, _ in people]
    return chosen if all_people else chosen[:1]


def _stack(result: VideoResult, name: str) -> np.ndarray:
    return np.stack([getattr(q, name) for q in result.people])


def _write_outputs(result: VideoResult, source_layout: str, video: Path | None, render: bool, viewer: bool,
                   progress: bool, panel_height: int, bvh: str | None = None) -> None:
    out = result.out_dir
    out.mkdir(parents=True, exist_ok=True)
    p = result.person
    with _stage(result.stage_seconds, "write"):
        arrays = dict(
            poses_3d=p.poses_3d.astype(np.float32), trajectory=p.trajectory.astype(np.float32),
            poses_world=p.poses_world.astype(np.float32), fps=np.float64(result.fps),
            times=result.times.astype(np.float64), confidence=p.confidence.astype(np.float32),
            valid=p.valid, flagged=p.flagged, world_from_camera=result.ground.matrix(),
            focal=np.float64(result.focal), image_size=np.array(result.image_size), person_id=np.int64(p.id),
            joint_names=np.array(H36M17.joint_names), parents=np.array(H36M17.parents),
            people_ids=np.array([q.id for q in result.people], dtype=np.int64),
            people_valid=_stack(result, "valid"), people_flagged=_stack(result, "flagged"),
            people_poses_3d=_stack(result, "poses_3d").astype(np.float32),
            people_trajectory=_stack(result, "trajectory").astype(np.float32),
            people_poses_world=_stack(result, "poses_world").astype(np.float32),
            people_confidence=_stack(result, "confidence").astype(np.float32),
        )
        save_npz_atomic(out / "poses_3d.npz", **arrays)
        result.files["poses_3d.npz"] = out / "poses_3d.npz"
        write_text_atomic(out / "poses_3d.json", json.dumps(_json_document(result), separators=(",", ":"),
                                                            allow_nan=False))
        result.files["poses_3d.json"] = out / "poses_3d.json"
        save_npz_atomic(
            out / "keypoints_2d.npz", keypoints_2d=p.keypoints_2d.astype(np.float32),
            confidence=p.confidence.astype(np.float32), valid=p.valid, flagged=p.flagged,
            interpolated=p.interpolated, image_size=np.array(result.image_size), times=result.times,
            fps=np.float64(result.fps), layout=np.array("h36m17"), source_layout=np.array(source_layout),
            units=np.array("pixels"), person_id=np.int64(p.id),
            people_ids=np.array([q.id for q in result.people], dtype=np.int64),
            people_keypoints_2d=_stack(result, "keypoints_2d").astype(np.float32),
            people_valid=_stack(result, "valid"),
        )
        result.files["keypoints_2d.npz"] = out / "keypoints_2d.npz"
    if bvh:
        with _stage(result.stage_seconds, "bvh"):
            _write_bvh_files(result, bvh)
    camera = result.ground.camera_position()
    if viewer:
        from poselift.export.viewer import ViewerPerson, write_viewer

        with _stage(result.stage_seconds, "viewer"):
            people = [ViewerPerson(q.id, q.poses_world, q.valid, q.confidence) for q in result.people]
            write_viewer(out / "viewer.html", people, result.fps, result.times, camera,
                         {"source": video.name if video else None, "person": p.id})
        result.files["viewer.html"] = out / "viewer.html"
    if render:
        from poselift.atomic import atomic_path
        from poselift.background import read_ahead
        from poselift.video.decode import iter_frames
        from poselift.video.render import RenderPerson, panel_size, render_people

        with _stage(result.stage_seconds, "render"), atomic_path(out / "render.mp4") as tmp, \
                _progress(result.num_frames, "render", progress) as bar:
            size = panel_size(result.image_size, panel_height)
            frames = (f.image for f in read_ahead(iter_frames(video, size=size))) if video is not None else None
            people = [RenderPerson(q.id, q.keypoints_2d, q.confidence, q.flagged, q.valid, q.poses_world)
                      for q in result.people]
            stats = render_people(tmp, frames, result.times, people, result.image_size, camera, panel_height, bar)
        result.speeds["render"] = stats["fps"]
        if stats["codec"] != "libx264":
            result.notes.append(f"render.mp4 encoded with {stats['codec']} (no libx264)")
        result.files["render.mp4"] = out / "render.mp4"


def valid_span(valid: np.ndarray) -> tuple[int, int]:
    """(first, last) valid frame, inclusive; (0, -1) when none."""
    frames = np.nonzero(valid)[0]
    return (int(frames[0]), int(frames[-1])) if len(frames) else (0, -1)


def span_poses(poses: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """A person's poses (T, 17, 3) cut to their first..last valid frame, invalid frames inside linearly
    interpolated between the valid ones around them (a BVH cannot skip frames)."""
    first, last = valid_span(valid)
    poses, valid = poses[first : last + 1], valid[first : last + 1]
    frames = np.arange(len(poses))
    flat = poses.reshape(len(poses), -1)
    filled = np.column_stack([np.interp(frames, frames[valid], flat[valid, c]) for c in range(flat.shape[1])])
    return filled.reshape(poses.shape)


def _write_bvh_files(result: VideoResult, naming: str) -> None:
    """person_<id>.bvh for every person (their valid span) and animation.bvh (the main person)."""
    from poselift.export.bvh_writer import export_bvh

    out = result.out_dir
    for q in result.people:
        poses = span_poses(q.poses_world, q.valid)
        name = f"person_{q.id}.bvh"
        export_bvh(poses, out / name, fps=result.fps, naming=naming, frame="world", floor="keep")
        result.files[name] = out / name
        if q is result.person:
            export_bvh(poses, out / "animation.bvh", fps=result.fps, naming=naming, frame="world", floor="keep")
            result.files["animation.bvh"] = out / "animation.bvh"


def _rounded_or_none(values: np.ndarray, valid: bool, decimals: int):
    return np.round(values, decimals).tolist() if valid else None


def _json_document(result: VideoResult) -> dict:
    p = result.person
    people = []
    for q in result.people:
        first, last = valid_span(q.valid)
        people.append({
            "id": q.id,
            "first_frame": first,
            "last_frame": last,
            "valid_frames": int(q.valid.sum()),
            "bvh": f"person_{q.id}.bvh",
            "frames": [
                {
                    "index": t,
                    "confidence": np.round(q.confidence[t], 3).tolist(),
                    "trajectory": np.round(q.trajectory[t], 4).tolist(),
                    "poses_3d": np.round(q.poses_3d[t], 4).tolist(),
                    "poses_world": np.round(q.poses_world[t], 4).tolist(),
                }
                for t in np.nonzero(q.valid)[0].tolist()
            ],
        })
    return {
        "format": "poselift.poses_3d",
        "version": 2,
        "joint_names": list(H36M17.joint_names),
        "parents": list(H36M17.parents),
        "fps": result.fps,
        "units": "metres",
        "coordinate_frames": COORDINATE_FRAMES,
        "world_from_camera": np.round(result.ground.matrix(), 6).tolist(),
        "floor_fit": result.ground.method,
        "focal_px": result.focal,
        "image_size": list(result.image_size),
        "times": np.round(result.times, 4).tolist(),
        "person_id": p.id,
        "people_ids": [q.id for q in result.people],
        "people": people,
        "frames": [
            {
                "index": t,
                "time": round(float(result.times[t]), 4),
                "valid": bool(p.valid[t]),
                "confidence": np.round(p.confidence[t], 3).tolist(),
                "trajectory": _rounded_or_none(p.trajectory[t], p.valid[t], 4),
                "poses_3d": _rounded_or_none(p.poses_3d[t], p.valid[t], 4),
                "poses_world": _rounded_or_none(p.poses_world[t], p.valid[t], 4),
            }
            for t in range(result.num_frames)
        ],
    }
