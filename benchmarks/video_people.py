"""Who was found, and were they kept: recall, false poses, id switches and tracks per true person.

Runs `process_video` (built-in multi-person detector) and compares every lifted person's per-frame 2D
centre (mean of the seen joints) with the true people's centres: each frame, lifted people and true people
are matched (Hungarian, within `gate` x the true person's height in pixels). Then
- recall: matched true person-frames / true person-frames;
- false poses: valid lifted person-frames matched to nobody / valid lifted person-frames;
- id switches per 1,000 true person-frames: a true person's matched lifted id changes from one matched
  frame to the next;
- tracks per true person: distinct lifted ids matched to each true person, averaged.

Truth: the real clips carry no annotation, so it is written down here. face-demographics-walking.gif: two
people walk towards the camera side by side, both visible in all 35 frames, never crossing (the woman on
the left); their horizontal centres were read off frames 0, 12, 24 and 34 by eye (pixels of the 480x270
picture) and interpolated, their heights likewise. The ASL clips: one signer in every frame. With
--scenes DIR, every `*.mp4` with a `*.npz` beside it holding `keypoints_2d` (Q, T, J, 2) pixels and
`visible` (Q, T) is scored too.

    python benchmarks/video_people.py --json benchmarks/results/video_people.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "video"

# face-demographics-walking.gif, read by eye: frame -> (x centre left person, x centre right person, height).
GIF_KEYFRAMES = {0: (272, 328, 150), 12: (235, 310, 175), 24: (210, 305, 205), 34: (175, 295, 235)}


class StandingLifter:
    """Lifting does not change who is found: a fixed standing pose keeps this benchmark fast."""

    fps = 30.0

    def lift(self, keypoints):
        from poselift.video.synthetic import synthesize_walk

        pose = synthesize_walk(seconds=0.1).poses_camera[0]
        return np.repeat((pose - pose[:1])[None], len(keypoints), axis=0).astype(np.float32)


def gif_truth(num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """True centres (2, T, 2) pixels (only x is annotated: y is NaN) and heights (2, T) of the gif."""
    frames = np.array(sorted(GIF_KEYFRAMES))
    values = np.array([GIF_KEYFRAMES[f] for f in frames], dtype=np.float64)
    t = np.arange(num_frames)
    centres = np.full((2, num_frames, 2), np.nan)
    for k in range(2):
        centres[k, :, 0] = np.interp(t, frames, values[:, k])
    heights = np.tile(np.interp(t, frames, values[:, 2]), (2, 1))
    return centres, heights


def person_centres(keypoints: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(P, T, 2) mean of each lifted person's 2D joints (NaN where not valid)."""
    centres = np.nanmean(np.where(valid[..., None, None], keypoints, np.nan), axis=2)
    return centres


def score(ids: list[int], centres: np.ndarray, valid: np.ndarray, truth: np.ndarray, heights: np.ndarray,
          gate: float = 0.5) -> dict:
    """Metrics (see the module docstring). centres (P, T, 2), valid (P, T); truth (Q, T, 2) NaN where absent
    (a NaN y alone means only x is known), heights (Q, T) pixels."""
    from scipy.optimize import linear_sum_assignment

    num_true, num_frames = truth.shape[:2]
    present = np.isfinite(truth[..., 0])
    matched_id = np.full((num_true, num_frames), -1)
    false = 0
    for t in range(num_frames):
        ours = [p for p in range(len(ids)) if valid[p, t]]
        theirs = [q for q in range(num_true) if present[q, t]]
        cost = np.full((len(ours), len(theirs)), 1e6)
        for i, p in enumerate(ours):
            for j, q in enumerate(theirs):
                diff = centres[p, t] - truth[q, t]
                distance = abs(diff[0]) if np.isnan(diff[1]) else float(np.hypot(*diff))
                if distance <= gate * heights[q, t]:
                    cost[i, j] = distance
        rows, cols = linear_sum_assignment(cost) if cost.size else ([], [])
        used = set()
        for i, j in zip(rows, cols, strict=True):
            if cost[i, j] < 1e6:
                matched_id[theirs[j], t] = ids[ours[i]]
                used.add(i)
        false += len(ours) - len(used)
    true_frames = int(present.sum())
    found = int((matched_id >= 0).sum())
    switches = 0
    tracks = []
    for q in range(num_true):
        seq = matched_id[q][matched_id[q] >= 0]
        switches += int((np.diff(seq) != 0).sum())
        tracks.append(len(set(seq.tolist())))
    lifted = int(valid.sum())
    return {
        "true_person_frames": true_frames,
        "recall": round(found / max(true_frames, 1), 4),
        "lifted_person_frames": lifted,
        "false_poses": round(false / max(lifted, 1), 4),
        "id_switches_per_1000": round(1000 * switches / max(true_frames, 1), 2),
        "tracks_per_true_person": round(float(np.mean(tracks)) if tracks else 0.0, 2),
        "people_lifted": len(ids),
    }


def run(path: Path, out: Path) -> tuple:
    from poselift.video.pipeline import process_video

    result = process_video(path, out, lifter=StandingLifter(), progress=False, render=False, viewer=False)
    ids = [q.id for q in result.people]
    keypoints = np.stack([q.keypoints_2d for q in result.people])
    valid = np.stack([q.valid for q in result.people])
    return result, ids, person_centres(keypoints, valid), valid


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--scenes", type=Path, default=None, help="folder of rendered scenes (mp4 + npz truth)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        gif = SHARED / "face-demographics-walking.gif"
        result, ids, centres, valid = run(gif, Path(tmp) / "gif")
        truth, heights = gif_truth(result.num_frames)
        rows.append({"input": gif.name, "tracks": len(result.track_ids), **score(ids, centres, valid, truth, heights)})
        asl = {"true_person_frames": 0, "found": 0, "false": 0, "lifted": 0, "tracks": [], "switches": 0}
        for clip in sorted((SHARED / "asl-gestures").glob("*.mkv")):
            result, ids, centres, valid = run(clip, Path(tmp) / clip.stem)
            # One signer, always there: the truth centre is the image's middle column, matched loosely.
            count = result.num_frames
            truth = np.full((1, count, 2), np.nan)
            truth[0, :, 0] = result.image_size[0] / 2
            row = score(ids, centres, valid, truth, np.full((1, count), float(result.image_size[1])))
            asl["true_person_frames"] += row["true_person_frames"]
            asl["found"] += round(row["recall"] * row["true_person_frames"])
            asl["lifted"] += row["lifted_person_frames"]
            asl["false"] += round(row["false_poses"] * row["lifted_person_frames"])
            asl["switches"] += round(row["id_switches_per_1000"] * row["true_person_frames"] / 1000)
            asl["tracks"].append(row["tracks_per_true_person"])
        rows.append({
            "input": "asl-gestures (20 clips)", "true_person_frames": asl["true_person_frames"],
            "recall": round(asl["found"] / asl["true_person_frames"], 4),
            "lifted_person_frames": asl["lifted"], "false_poses": round(asl["false"] / max(asl["lifted"], 1), 4),
            "id_switches_per_1000": round(1000 * asl["switches"] / asl["true_person_frames"], 2),
            "tracks_per_true_person": round(float(np.mean(asl["tracks"])), 2),
        })
        if args.scenes is not None:
            for video in sorted(args.scenes.glob("*.mp4")):
                truth_file = video.with_suffix(".npz")
                if not truth_file.exists():
                    continue
                with np.load(truth_file) as data:
                    true_2d, visible = data["keypoints_2d"], data["visible"].astype(bool)
                result, ids, centres, valid = run(video, Path(tmp) / video.stem)
                truth = np.where(visible[..., None], np.nanmean(true_2d, axis=2), np.nan)
                heights = np.ptp(true_2d[..., 1], axis=2)
                rows.append({"input": video.name, "tracks": len(result.track_ids),
                             **score(ids, centres, valid, truth, heights)})
    header = f"{'input':<30} {'recall':>7} {'false':>7} {'switch/1k':>9} {'tracks/person':>13}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['input'][:30]:<30} {row['recall']:>7.3f} {row['false_poses']:>7.3f} "
              f"{row['id_switches_per_1000']:>9.2f} {row['tracks_per_true_person']:>13.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
