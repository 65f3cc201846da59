"""`poselift video` cost per stage: what lifting + trajectory + rendering add to decode + 2D detection.

Runs the whole pipeline (built-in multi-person detector, the shipped model, render.mp4 with every person
drawn, viewer.html) on each input, and on all inputs joined into one clip (per-run costs then weigh as on
a longer video). Prints a table and writes JSON. The target (issue 21): the stages after 2D detection add
at most 15 % to decode + 2D. Loading the model is a once-per-process cost, reported on its own.

    python benchmarks/video_speed.py ../shared/data/video/face-demographics-walking.gif \
        ../shared/data/video/asl-gestures/*.mkv --json benchmarks/results/video_speed.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

AFTER_2D = ("track", "lift", "trajectory", "render", "viewer", "write", "bvh")


def measure(path: Path, out: Path, lifter) -> dict:
    """Run process_video once; seconds per stage and the overhead of the stages after 2D."""
    from poselift.video.pipeline import process_video

    start = time.perf_counter()
    result = process_video(path, out, lifter=lifter, progress=False)
    wall = time.perf_counter() - start
    stages = {k: round(v, 3) for k, v in result.stage_seconds.items()}
    front = stages.get("2d", 0.0)
    after = sum(stages.get(k, 0.0) for k in AFTER_2D)
    return {
        "input": path.name,
        "frames": result.num_frames,
        "people_lifted": len(result.people),
        "tracks": len(result.track_ids),
        "stage_seconds": stages,
        "decode_2d_s": round(front, 3),
        "after_2d_s": round(after, 3),
        "overhead": round(after / front, 4) if front else None,
        "render_fps": round(result.speeds.get("render", 0.0), 1),
        "wall_s": round(wall, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", help="videos")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--no-joined", action="store_true", help="skip the run on all inputs joined")
    args = parser.parse_args()

    import torch

    from poselift.video.pipeline import make_lifter

    load = time.perf_counter()
    lifter = make_lifter(None)
    load_s = time.perf_counter() - load
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for k, path in enumerate(args.inputs):
            rows.append(measure(Path(path), tmp / f"run{k}", lifter))
        if len(args.inputs) > 1 and not args.no_joined:
            from speed import concatenate_videos  # benchmarks/speed.py, beside this script

            joined = concatenate_videos(args.inputs, tmp / "joined.mp4")
            rows.append(measure(joined, tmp / "joined", lifter) | {"input": f"all {len(args.inputs)} joined"})
    header = f"{'input':<32} {'frames':>6} {'people':>6} {'2D s':>7} {'after s':>8} {'overhead':>9} {'render fps':>10}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['input'][:32]:<32} {row['frames']:>6} {row['people_lifted']:>6} {row['decode_2d_s']:>7.2f} "
              f"{row['after_2d_s']:>8.2f} {100 * (row['overhead'] or 0):>8.1f}% {row['render_fps']:>10.1f}")
    print(f"model load (once): {load_s:.2f} s; stages after 2D: {', '.join(AFTER_2D)}")
    if args.json:
        report = {"rows": rows, "model_load_s": round(load_s, 3), "torch_threads": torch.get_num_threads(),
                  "machine": platform.platform(), "python": platform.python_version()}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
