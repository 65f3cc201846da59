"""Ordinary footage with people coming and going: rendered scenes of visitors walking through a room one
after another (poselift.scenes.visitors), through `process_video` as `poselift video` runs it, scored for
coverage of the frames with someone in view, poses on empty frames, people lifted, recall, false poses,
identity switches, tracks per person and floor penetration. Prints a table and writes JSON.

    python benchmarks/video_visitors.py --seeds 0 1 --json benchmarks/results/video_visitors.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

KEYS = ("frames", "in_view_frames", "empty_frames", "in_view_covered", "empty_with_pose", "true_people",
        "people_lifted_3s", "tracks_lifted", "recall", "false_pose_rate", "id_switches_per_1000",
        "tracks_per_person", "contact_frames_below_3cm", "floor_penetration_max_mm", "p_mpjpe_mm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--keep", type=Path, help="keep the rendered videos and outputs in this folder")
    args = parser.parse_args()

    from poselift.atomic import write_text_atomic
    from poselift.scenes.benchmark import visitors_accuracy

    report = visitors_accuracy(args.seeds, args.people, args.fps, args.model, args.keep, progress=True)
    print("| " + " | ".join(("seed",) + KEYS) + " |")
    print("|" + " --- |" * (len(KEYS) + 1))
    for s in report["scenes"]:
        print("| " + " | ".join(str(v) for v in [s["seed"]] + [s.get(k) for k in KEYS]) + " |")
    write_text_atomic(args.json, json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
