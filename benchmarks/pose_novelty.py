"""How new are a style's poses? The distance from each of its poses to the nearest pose of the other styles.

For each style asked for, every pose (every `--step`-th frame) is compared with the poses of the training
styles, leaving out that style itself and the held-out styles: root-relative, turned so the hips face the
same way, and measured as the root-mean-square joint distance (mm). A style whose poses lie far from the
rest is harder for a lifter trained on the rest. Prints a table and writes JSON:

    python benchmarks/pose_novelty.py --json benchmarks/results/pose_novelty.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from accuracy import DEFAULT_BVH, HOLDOUT  # the held-out set of the accuracy benchmark and the model card

COMPARED = (*HOLDOUT, "feminine", "active", "normal", "tired", "exhausted")


def facing_forward(joints: np.ndarray) -> np.ndarray:
    """(T, 17, 3) Y-up world -> root-relative poses turned about Y so the left hip lies along +X."""
    poses = joints - joints[:, :1]
    hips = poses[:, 4] - poses[:, 1]
    angle = np.arctan2(hips[:, 2], hips[:, 0])
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x, z = poses[..., 0], poses[..., 2]
    return np.stack([c * x + s * z, poses[..., 1], -s * x + c * z], axis=-1)


def nearest_distances(queries: np.ndarray, pool: np.ndarray, chunk: int = 512) -> np.ndarray:
    """For each query pose (N, 17, 3), the RMS joint distance (metres) to its nearest pose in pool (M, 17, 3)."""
    import torch

    pool_t = torch.from_numpy(pool.reshape(len(pool), -1).astype(np.float32))
    out = [torch.cdist(torch.from_numpy(part.reshape(len(part), -1).astype(np.float32)), pool_t).min(dim=1).values
           for part in np.array_split(queries, max(1, len(queries) // chunk))]
    return torch.cat(out).numpy() / np.sqrt(queries.shape[1])


def main() -> int:
    from poselift.data.mocap import load_mocap

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bvh", type=Path, default=DEFAULT_BVH)
    parser.add_argument("--styles", default=",".join(COMPARED), help="comma-separated styles to measure")
    parser.add_argument("--step", type=int, default=5, help="use every step-th frame")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not args.bvh.is_dir():
        print(f"{args.bvh}: motion capture folder not found", file=sys.stderr)
        return 1
    clips = load_mocap([args.bvh])
    poses: dict[str, list[np.ndarray]] = {}
    for clip in clips:
        poses.setdefault(clip.style, []).append(facing_forward(clip.joints_3d[:: args.step]))
    rows = {}
    for style in args.styles.split(","):
        if style not in poses:
            print(f"{args.bvh}: no clips of style {style!r}", file=sys.stderr)
            return 1
        pool = np.concatenate([p for name, ps in poses.items() if name not in {style, *HOLDOUT} for p in ps])
        distance = nearest_distances(np.concatenate(poses[style]), pool) * 1000
        rows[style] = {"poses": len(distance), "pool": len(pool), "mean_mm": round(float(distance.mean()), 1),
                       "median_mm": round(float(np.median(distance)), 1),
                       "p90_mm": round(float(np.percentile(distance, 90)), 1)}
    table = ["| style | held out | poses | mean (mm) | median (mm) | 90th percentile (mm) |",
             "|---|---|---|---|---|---|"]
    table += [f"| {style} | {'yes' if style in HOLDOUT else 'no'} | {r['poses']:,} | {r['mean_mm']} | {r['median_mm']} "
              f"| {r['p90_mm']} |" for style, r in rows.items()]
    print("\n".join(table))
    if args.json:
        from poselift.atomic import write_text_atomic

        report = {"bvh": str(args.bvh), "step": args.step, "held_out": list(HOLDOUT), "rows": rows,
                  "table": "\n".join(table)}
        write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
