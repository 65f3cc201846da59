"""The video-accuracy benchmark: motion capture rendered as people on video, run through `process_video`
with the built-in detector exactly as `poselift video` runs it, scored against the 3D truth, beside
MediaPipe's own 3D (`pose_world_landmarks`) on the same frames.

Two fixed sets of motion (chosen before any number was seen, never trained on by the shipped models):
`validation` for every choice of model or setting, `test` for the report alone.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from poselift.body_size import ADULT_HEIGHT
from poselift.data.mocap import load_clip
from poselift.errors import InputError
from poselift.scenes.scene import Truth, random_scene, render_scene
from poselift.scenes.scoring import Predicted, score_scene, summarise
from poselift.skeleton import H36M17
from poselift.video.layouts import MEDIAPIPE33, to_h36m

_YOUTHFUL = ("raise-up-both-hands", "raise-up-left-hand", "raise-up-right-hand", "run", "walk", "walk-turn-left",
             "walk-turn-right", "wave-both-hands", "wave-left-hand", "wave-right-hand")
_CHILDISH = ("bow", "bye", "byebye", "dash", "guide", "run", "walk-back", "walk-left", "walk-right", "walk")
BENCHMARK_SETS: dict[str, list[str]] = {
    "validation": [f"bandai-namco/dataset-1/dataset-1_{c}_childish_001.bvh" for c in _CHILDISH]
    + ["cmu-daz/12/12_01.bvh", "cmu-daz/12/12_02.bvh", "cmu-daz/11/11_01.bvh"],
    "test": [f"bandai-namco/dataset-2/dataset-2_{c}_youthful_001.bvh" for c in _YOUTHFUL]
    + ["cmu-daz/13/13_11.bvh", "cmu-daz/13/13_30.bvh", "cmu-daz/13/13_18.bvh", "cmu-daz/13/13_26.bvh",
       "cmu-daz/14/14_05.bvh", "cmu-daz/14/14_12.bvh"],
}
"""Files under ../shared/data/mocap: the held-out Bandai styles (childish: validation, youthful: test) and
CMU subjects 11-12 (validation) and 13-14 (test); motions that need props (stools, ladders) are left out."""
SCENE_FPS = 30.0


def benchmark_files(name: str, mocap_root: str | Path) -> list[Path]:
    """The BVH files of a fixed set ("validation" or "test") under a mocap folder."""
    return [Path(mocap_root) / f for f in BENCHMARK_SETS[name]]


def motion_window(path: str | Path, seconds: float, rng: np.random.Generator, fps: float = SCENE_FPS) -> np.ndarray:
    """A random `seconds`-long piece (the whole clip if shorter) of a BVH file's motion at `fps`: (T, 17, 3)."""
    clip = load_clip(path)
    joints = clip.joints_3d.astype(np.float64)
    step = clip.fps / fps
    index = np.arange(0.0, len(joints) - 1, step)
    lo = np.floor(index).astype(int)
    frac = (index - lo)[:, None, None]
    resampled = joints[lo] * (1 - frac) + joints[np.minimum(lo + 1, len(joints) - 1)] * frac
    count = min(len(resampled), int(round(seconds * fps)))
    start = int(rng.integers(0, len(resampled) - count + 1))
    return resampled[start:start + count]


def mediapipe_people(detections: list[list], count: int) -> list[Predicted]:
    """MediaPipe's own 3D as predictions: per frame the detector's world landmarks mapped to the 17 joints
    (the same conversion as its 2D), one slot per detection index (MediaPipe does no tracking of its own)."""
    slots = max((len(d) for d in detections), default=0)
    out = []
    for k in range(slots):
        valid = np.zeros(count, bool)
        kp = np.zeros((count, 17, 2))
        poses = np.zeros((count, 17, 3))
        for t, frame in enumerate(detections[:count]):
            if len(frame) > k and frame[k].world is not None:
                det = frame[k]
                xy, _ = to_h36m(det.keypoints, det.scores, MEDIAPIPE33)
                w_xy, _ = to_h36m(det.world[:, :2], det.scores, MEDIAPIPE33)
                w_z, _ = to_h36m(det.world[:, [2, 2]], det.scores, MEDIAPIPE33)
                valid[t], kp[t] = True, xy
                poses[t] = np.concatenate([w_xy, w_z[:, :1]], axis=-1)
        out.append(Predicted(k, valid, kp, poses))
    return out


def poselift_people(result) -> list[Predicted]:
    """The people a VideoResult lifted, as predictions (camera-frame poses, trajectory, world poses)."""
    return [Predicted(p.id, p.valid.copy(), p.keypoints_2d, p.poses_3d, p.trajectory, p.poses_world)
            for p in result.people]


_OUTWARD = {1: (1, 4), 2: (1, 4), 3: (1, 4), 4: (4, 1), 5: (4, 1), 6: (4, 1),
            11: (11, 14), 12: (11, 14), 13: (11, 14), 14: (14, 11), 15: (14, 11), 16: (14, 11)}
"""For each side joint, the true joint pair whose direction (first minus second) points away from the midline."""


def detector_offsets(predicted: list[Predicted], assignment: np.ndarray, truth: Truth) -> np.ndarray:
    """(N, 17, 2) offsets of a detector's 2D joints from the true joints' projections in the body's own image
    frame, metres at the person's scale (pixels / the person's height in pixels x true height): [0] outward
    (away from the body's midline along the hip or shoulder line; 0 for centre joints), [1] up (towards the
    head along the pelvis-thorax line); NaN where the true joint is not visible."""
    rows = []
    for g in range(assignment.shape[0]):
        for t in np.nonzero(assignment[g] >= 0)[0]:
            gt = truth.joints_2d[g, t]
            pixel_height = np.linalg.norm(gt[10] - (gt[3] + gt[6]) / 2)  # projections exist out of view too
            if pixel_height < 20:
                continue
            delta = (predicted[assignment[g, t]].keypoints_2d[t] - gt) / pixel_height * truth.heights[g]
            up = gt[8] - gt[0]
            up /= max(np.linalg.norm(up), 1e-9)
            row = np.zeros((17, 2))
            row[:, 1] = delta @ up
            for j, (a, b) in _OUTWARD.items():
                out = gt[a] - gt[b]
                out -= (out @ up) * up
                norm = np.linalg.norm(out)
                row[j, 0] = delta[j] @ out / norm if norm > 1e-6 else np.nan
            row[~truth.visible[g, t]] = np.nan
            rows.append(row)
    return np.array(rows).reshape(-1, 17, 2)


def video_accuracy(bvh: Sequence[str | Path], views: int = 2, seconds: float = 4.0, people: int = 1,
                   seed: int = 0, model=None, work_dir: str | Path | None = None, progress: bool = False,
                   long_side: int = 640, person_height: float | str | None = ADULT_HEIGHT) -> dict:
    """Render each clip through `views` random cameras (with `people` people per scene: the clip's motion and
    the next clips' motions), run the video chain with the true focal length, and score poselift and
    MediaPipe's own 3D. `person_height`: as `process_video`'s (metres; the default adult's, None for the
    model's own size), or "true" to tell each scene's first person's true height (what knowing it buys).
    Returns {"summary": {...}, "detector_offsets_mm": {...}, "clips": [...], "settings"}."""
    from poselift.video.pipeline import make_lifter, process_video

    start = time.perf_counter()
    files = [Path(p) for p in bvh]
    lifter = make_lifter(model)
    entries, parts, dets = [], {"poselift": [], "mediapipe": []}, {"poselift": [], "mediapipe": []}
    offsets = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(work_dir) if work_dir is not None else Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(files):
            for view in range(views):
                rng = np.random.default_rng([seed, i, view])
                motions = [(motion_window(files[(i + k) % len(files)], seconds, rng), files[(i + k) % len(files)].stem)
                           for k in range(people)]
                scene = random_scene(motions, rng)
                name = f"{path.stem}_view{view}"
                video = root / f"{name}.mp4"
                truth = render_scene(scene, video, root / f"{name}_truth.npz")
                try:
                    height = float(truth.heights[0]) if person_height == "true" else person_height
                    result = process_video(video, root / name, focal=float(scene.camera.focal[0]), lifter=lifter,
                                           render=False, viewer=False, progress=progress, person_height=height)
                    found = {"poselift": poselift_people(result),
                             "mediapipe": mediapipe_people(result.detections, len(truth.times))}
                except InputError as error:  # nobody found: every present frame is missed
                    found = {"poselift": [], "mediapipe": []}
                    print(f"{name}: {error}", flush=True)
                entry = {"clip": path.stem, "view": view, "scene": truth.meta}
                for method, predicted in found.items():
                    assignment, own, det = score_scene(predicted, truth, scene.camera.R)
                    parts[method].extend(own)
                    dets[method].append(det)
                    entry[method] = summarise(own, [det])
                    if method == "mediapipe":
                        offsets.append(detector_offsets(predicted, assignment, truth))
                entries.append(entry)
                if progress:
                    print(f"{name}: poselift P-MPJPE {entry['poselift']['p_mpjpe_mm']} mm, MediaPipe "
                          f"{entry['mediapipe']['p_mpjpe_mm']} mm", flush=True)
    summary = {m: summarise(parts[m], dets[m]) for m in parts}
    summary["mediapipe"]["root_error_m"] = summary["mediapipe"]["root_error_pct"] = None
    summary["mediapipe"]["id_switches_per_1000"] = summary["mediapipe"]["tracks_per_person"] = None
    off = np.concatenate(offsets) if offsets else np.zeros((0, 17, 2))
    def mean_mm(values: np.ndarray) -> float | None:
        seen = values[np.isfinite(values)]
        return round(float(seen.mean()) * 1000, 1) if len(seen) else None

    detector = {name: {"outward_mm": mean_mm(off[:, j, 0]), "up_mm": mean_mm(off[:, j, 1])}
                for j, name in enumerate(H36M17.joint_names)} if len(off) else {}
    return {"summary": summary, "detector_offsets_mm": detector, "clips": entries,
            "settings": {"files": [str(f) for f in files], "views": views, "seconds": seconds, "people": people,
                         "seed": seed, "model": str(model) if model is not None else "default",
                         "long_side": long_side, "person_height": person_height},
            "seconds": round(time.perf_counter() - start, 1)}



def visitors_accuracy(seeds: Sequence[int] = (0, 1), people: int = 6, fps: float = 10.0, model=None,
                      work_dir: str | Path | None = None, progress: bool = False) -> dict:
    """Ordinary footage of a room (poselift.scenes.visitors): per scene and pooled, the share of frames with
    someone in view that have a valid lifted pose (`in_view_covered`), the share of empty frames that have one
    (`empty_with_pose`), people lifted for at least 3 s, recall, false poses, identity switches, tracks per
    true person, and floor penetration while a true foot is in contact."""
    from poselift.scenes.visitors import visitors_scene
    from poselift.video.pipeline import make_lifter, process_video

    start = time.perf_counter()
    lifter = make_lifter(model)
    scenes, dets, parts = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(work_dir) if work_dir is not None else Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            scene = visitors_scene(np.random.default_rng([seed, 21]), people=people, fps=fps)
            video = root / f"visitors_{seed}.mp4"
            truth = render_scene(scene, video, root / f"visitors_{seed}_truth.npz")
            result = process_video(video, root / f"visitors_{seed}", focal=float(scene.camera.focal[0]),
                                   lifter=lifter, render=False, viewer=False, progress=progress)
            predicted = poselift_people(result)
            _, own, det = score_scene(predicted, truth, scene.camera.R)
            any_pose = np.stack([p.valid for p in predicted]).any(axis=0)
            in_view = truth.present().any(axis=0)
            empty = ~truth.in_image.any(axis=(0, 2))
            sink = np.concatenate([p["floor_penetration"] for p in own if len(p["floor_penetration"])] or [np.zeros(0)])
            long_enough = sum(int(p.valid.sum() / result.fps >= 3.0) for p in predicted)
            scenes.append({
                "seed": seed, "frames": int(len(truth.times)), "true_people": people, "scene": truth.meta,
                "in_view_frames": int(in_view.sum()), "empty_frames": int(empty.sum()),
                "in_view_covered": round(float(any_pose[in_view].mean()), 4),
                "empty_with_pose": round(float(any_pose[empty].mean()), 4) if empty.any() else None,
                "people_lifted_3s": long_enough, "tracks_lifted": len(predicted),
                "contact_frames_below_3cm": round(float((sink > 0.03).mean()), 4) if len(sink) else None,
                "floor_penetration_max_mm": round(float(sink.max() * 1000), 1) if len(sink) else None,
                **summarise(own, [det]),
            })
            dets.append(det)
            parts.extend(own)
            if progress:
                print(f"visitors {seed}: covered {scenes[-1]['in_view_covered']}, empty with a pose "
                      f"{scenes[-1]['empty_with_pose']}, {long_enough} people lifted >= 3 s", flush=True)
    return {"summary": summarise(parts, dets), "scenes": scenes,
            "settings": {"seeds": list(seeds), "people": people, "fps": fps,
                         "model": str(model) if model is not None else "default"},
            "seconds": round(time.perf_counter() - start, 1)}
