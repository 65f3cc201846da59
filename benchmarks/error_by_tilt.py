"""Where the held-out error lies: MPJPE by the evaluation camera's tilt, for one or more models.

Clean 2D, flip-averaged, every frame of the held-out styles (the set `poselift evaluate --bvh` uses),
grouped by how far each sequence's camera looks down (positive) or up (negative). Prints a table and
writes JSON. Models are shipped names or weights files, e.g. with the nine earlier releases (the table in
docs/model-cards.md):

    git show 8fb1317:src/poselift/weights/atcn_27f_mocap.safetensors > /tmp/stage9_atcn_27f_mocap.safetensors
    git show 97bb20b:src/poselift/weights/atcn_27f_mocap.safetensors > /tmp/stage7_atcn_27f_mocap.safetensors
    git show 96dce20:src/poselift/weights/atcn_27f_mocap.safetensors > /tmp/stage6_atcn_27f_mocap.safetensors
    git show e674136:src/poselift/weights/atcn_27f_mocap.safetensors > /tmp/stage5_atcn_27f_mocap.safetensors
    git show e4d36fb:src/poselift/weights/atcn_27f_mocap.safetensors > /tmp/stage4_atcn_27f_mocap.safetensors
    git show 0aaa27f:src/poselift/weights/atcn_27f_mocap.safetensors > /tmp/stage3_atcn_27f_mocap.safetensors
    git show 80780c1:src/poselift/weights/atcn_27f_mocap.safetensors > /tmp/stage2_atcn_27f_mocap.safetensors
    git show 09b4746:src/poselift/weights/atcn_27f_mocap.safetensors > /tmp/stage1_atcn_27f_mocap.safetensors
    git show bef5eda:src/poselift/weights/atcn_27f_mocap.safetensors > /tmp/frame_atcn_27f_mocap.safetensors
    python benchmarks/error_by_tilt.py atcn_27f_mocap /tmp/stage9_atcn_27f_mocap.safetensors \
        /tmp/stage7_atcn_27f_mocap.safetensors \
        /tmp/stage6_atcn_27f_mocap.safetensors \
        /tmp/stage5_atcn_27f_mocap.safetensors \
        /tmp/stage4_atcn_27f_mocap.safetensors \
        /tmp/stage3_atcn_27f_mocap.safetensors \
        /tmp/stage2_atcn_27f_mocap.safetensors /tmp/stage1_atcn_27f_mocap.safetensors \
        /tmp/frame_atcn_27f_mocap.safetensors \
        --json benchmarks/results/error_by_tilt.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from accuracy import DEFAULT_BVH, HOLDOUT  # the held-out set of the accuracy benchmark and the model card

EDGES = (-90.0, -5.0, 5.0, 10.0, 15.0, 90.0)


def camera_tilt_degrees(rotation: np.ndarray) -> float:
    """Downward tilt of a world (Y up) -> camera rotation: the angle of its viewing axis below the horizon."""
    return math.degrees(math.asin(float(np.clip(-rotation[2, 1], -1.0, 1.0))))


def main() -> int:
    from poselift.evaluation.mocap import mocap_evaluation_sequences
    from poselift.inference import Lifter

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=["atcn_27f_mocap"], help="shipped names or weights files")
    parser.add_argument("--bvh", type=Path, default=DEFAULT_BVH)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not args.bvh.is_dir():
        print(f"{args.bvh}: motion capture folder not found", file=sys.stderr)
        return 1
    sequences = mocap_evaluation_sequences(args.bvh, styles=HOLDOUT)
    bins = [f"{lo:+.0f}..{hi:+.0f}" for lo, hi in zip(EDGES[:-1], EDGES[1:], strict=True)]
    bins[0], bins[-1] = f"< {EDGES[1]:+.0f}", f">= {EDGES[-2]:+.0f}"
    tilt_bin = [int(np.searchsorted(EDGES, camera_tilt_degrees(np.asarray(s.camera_params["R"])))) - 1
                for s in sequences]
    frames = np.bincount(tilt_bin, weights=[s.num_frames for s in sequences], minlength=len(bins)).astype(int)
    results: dict[str, list[float]] = {}
    for model in args.models:
        lifter = Lifter(model)
        sums = np.zeros(len(bins))
        for seq, k in zip(sequences, tilt_bin, strict=True):
            truth = seq.poses_3d.astype(np.float64)
            truth = truth - truth[:, :1]
            sums[k] += np.linalg.norm(lifter.lift(seq.keypoints_2d) - truth, axis=-1).mean(axis=-1).sum()
        results[model] = [round(float(v), 1) for v in sums / np.maximum(frames, 1) * 1000]
    header = "| camera tilt (degrees down) | " + " | ".join(bins) + " |"
    print(header)
    print("|---" * (len(bins) + 1) + "|")
    print("| frames | " + " | ".join(f"{n:,}" for n in frames) + " |")
    for model, values in results.items():
        print(f"| {Path(model).name} MPJPE (mm) | " + " | ".join(f"{v:.1f}" for v in values) + " |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps({"bins": bins, "frames": frames.tolist(), "mpjpe_mm": results}, indent=2) + "\n")
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
