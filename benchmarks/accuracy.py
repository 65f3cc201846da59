"""Accuracy benchmark: what the attention buys, on held-out motion capture.

Trains, with the same data, budget (windows seen) and seeds, and evaluates on held-out styles with clean
and with detector-like noisy 2D (the same seeded sets as `poselift evaluate --bvh`):
  - the attention network, symmetric and causal (27 frames, 256 channels, as shipped; or 81 frames),
  - VideoPose3D's network with a similar parameter count,
  - a single-frame lifter (receptive field 1) as the floor,
and optionally the shipped models. Every figure is in inference mode on held-out data, with flip
averaging. Prints a table and writes JSON.

    python benchmarks/accuracy.py --json benchmarks/results/accuracy.json [--epochs 4 --windows 30000]
    python benchmarks/accuracy.py ... --set data.speed_range=[0.8,1.25] --runs runs/accuracy-speed   # a recipe change
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BVH = REPO.parent / "shared" / "data" / "mocap" / "bandai-namco"
HOLDOUT = ("childish", "youthful")

CANDIDATES = {
    # The shipped architecture before its widening stage (27 frames, 256 channels, 490k parameters) and
    # baselines of a similar count.
    "atcn_27f": ("atcn_27f", {"channels": 256}),
    "atcn_27f_causal": ("atcn_27f_causal", {"channels": 256}),
    "videopose3d_27f": ("videopose3d_27f", {"channels": 240}),
    "single_frame": ("videopose3d_1f", {"channels": 336}),
    # The earlier, narrower set (192 channels, ~330k parameters).
    "atcn_27f_192": ("atcn_27f", {"channels": 192}),
    "atcn_27f_causal_192": ("atcn_27f_causal", {"channels": 192}),
    "videopose3d_27f_192": ("videopose3d_27f", {"channels": 192}),
    "single_frame_256": ("videopose3d_1f", {"channels": 256}),
    # A deeper pair: 81 frames, 256 channels.
    "atcn_81f": ("atcn_81f", {"channels": 256}),
    "atcn_81f_causal": ("atcn_81f_causal", {"channels": 256}),
    "videopose3d_81f": ("videopose3d_81f", {"channels": 256}),
    "single_frame_448": ("videopose3d_1f", {"channels": 448}),
    # Width: 512 channels (today's shipped width) and 1024 (the paper's).
    "atcn_27f_512": ("atcn_27f", {"channels": 512}),
    "atcn_27f_1024": ("atcn_27f", {"channels": 1024}),
}
DEFAULT_CANDIDATES = "atcn_27f,atcn_27f_causal,videopose3d_27f,single_frame"


def train_candidate(key: str, args: argparse.Namespace) -> Path:
    """Train one candidate with the shared recipe (configs/shipped_atcn_27f.toml) and a fixed budget."""
    from poselift.training.config import load_config
    from poselift.training.trainer import train

    name, overrides = CANDIDATES[key]
    settings = [
        f"model.name={name}", f"output_dir={args.runs / key}", f"epochs={args.epochs}",
        f"max_windows_per_epoch={args.windows}", f"seed={args.seed}", f"data.train=['{args.bvh}']",
        f"num_threads={args.threads}", "plot=false",
    ] + [f"model.{k}={v}" for k, v in overrides.items()] + list(args.set)
    config = load_config(REPO / "configs" / "shipped_atcn_27f.toml", settings)
    result = train(config, resume=True, log=lambda message: print(f"  [{key}] {message}", flush=True))
    # The last weights, not the "best" epoch: validation uses the held-out styles, so picking by it would
    # select on the test clips.
    return result.final_weights


def evaluate_weights(weights: str | Path, noise: str, args: argparse.Namespace) -> dict[str, float]:
    """MPJPE, P-MPJPE, N-MPJPE and MPJVE (mm, flip-averaged) on the held-out styles, as `evaluate --bvh`."""
    import torch

    from poselift.evaluation import EvaluationData, evaluate_sequences
    from poselift.evaluation.mocap import mocap_evaluation_sequences
    from poselift.inference import Lifter
    from poselift.skeleton import H36M17

    lifter = Lifter(str(weights), flip=False)
    sequences = mocap_evaluation_sequences(args.bvh, noise=noise, fps=lifter.fps or 30.0, styles=HOLDOUT)
    data = EvaluationData(sequences, H36M17, "motion capture")
    with torch.inference_mode():
        report = evaluate_sequences(data, lifter.lift, flip=True)
    return dict(report["variants"]["flip"]["action_average"])


def describe(weights: str | Path) -> dict[str, float]:
    from poselift.models.flops import count_parameters, flops_per_frame
    from poselift.models.registry import load_model

    model = load_model(weights)
    return {"receptive_field": model.receptive_field, "causal": model.causal,
            "parameters": count_parameters(model), "mflops_per_frame": flops_per_frame(model) / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bvh", type=Path, default=DEFAULT_BVH, help="Bandai Namco BVH folder")
    parser.add_argument("--runs", type=Path, default=REPO / "runs" / "accuracy", help="run folders")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--windows", type=int, default=30000, help="training windows per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", default=DEFAULT_CANDIDATES, help=f"comma-separated, of {', '.join(CANDIDATES)}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a further training config override for every candidate (repeatable; use with --runs)")
    parser.add_argument("--shipped", action="store_true", help="also evaluate the shipped models")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "accuracy.json")
    args = parser.parse_args()
    if not args.bvh.is_dir():
        print(f"accuracy.py: {args.bvh}: motion capture folder not found", file=sys.stderr)
        return 2

    rows: dict[str, dict] = {}
    for key in [k.strip() for k in args.models.split(",") if k.strip()]:
        started = time.perf_counter()
        weights = train_candidate(key, args)
        rows[key] = {"weights": str(weights), "train_seconds": time.perf_counter() - started,
                     "budget_windows": args.epochs * args.windows, **describe(weights)}
    if args.shipped:
        from poselift.models.registry import PRETRAINED, pretrained_path

        for name in PRETRAINED:
            path = pretrained_path(name)
            if path is not None:
                rows[f"shipped:{name}"] = {"weights": str(path), "budget_windows": None, **describe(path)}
    for key, row in rows.items():
        for noise in ("none", "detector"):
            row[noise] = evaluate_weights(row["weights"], noise, args)
            print(f"{key} ({noise} 2D): MPJPE {row[noise]['mpjpe']:.1f} mm", flush=True)

    header = ("model", "frames", "params", "MFLOPs/frame", "clean MPJPE", "clean P-MPJPE", "clean MPJVE",
              "noisy MPJPE", "noisy P-MPJPE", "noisy MPJVE")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, row in rows.items():
        clean, noisy = row["none"], row["detector"]
        lines.append(
            f"| {key} | {row['receptive_field']}{' causal' if row['causal'] else ''} | {row['parameters']:,} | "
            f"{row['mflops_per_frame']:.2f} | {clean['mpjpe']:.1f} | {clean['p_mpjpe']:.1f} | {clean['mpjve']:.2f} | "
            f"{noisy['mpjpe']:.1f} | {noisy['p_mpjpe']:.1f} | {noisy['mpjve']:.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    from poselift.atomic import write_text_atomic

    result = {"holdout_styles": HOLDOUT, "bvh": str(args.bvh), "epochs": args.epochs, "windows": args.windows,
              "seed": args.seed, "overrides": args.set, "eval_seed": 1234,
              "metric_units": "mm (MPJVE mm/frame), flip-averaged",
              "rows": rows, "table": table}
    write_text_atomic(args.json, json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
