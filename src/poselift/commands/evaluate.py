"""`poselift evaluate`: benchmark a model on Human3.6M, HumanEva-I or motion capture, all four protocols.

The command parses arguments, loads the model and prints; the work is `poselift.evaluation`'s
(`load_evaluation_data`, `evaluate_sequences`, `format_markdown`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from poselift.commands import BATCH_SIZE, FPS, ROLL_DEGREES, ranged

HELP = ("evaluate a model on Human3.6M, HumanEva-I or motion capture (--bvh): MPJPE, P-MPJPE, N-MPJPE, "
        "MPJVE per action")

DATASETS = ("h36m", "humaneva")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="weights file or shipped model name (default: the default model)")
    parser.add_argument("--dataset", choices=DATASETS, default="h36m", help="which benchmark the files hold")
    parser.add_argument("--data-3d", help="data_3d_h36m.npz / data_3d_humaneva15.npz (VideoPose3D layout)")
    parser.add_argument("--data-2d", help="data_2d_h36m_<source>.npz / data_2d_humaneva15_<source>.npz")
    parser.add_argument("--subjects", default=None,
                        help="comma-separated subjects, or 'all' (default: S9,S11 / Validate/S1,S2,S3)")
    parser.add_argument("--actions", default=None,
                        help="comma-separated action-name prefixes, or 'all' (default: all / Walk,Jog,Box)")
    mocap = parser.add_argument_group("motion capture (--bvh): 2D/3D pairs synthesised from BVH, seeded")
    mocap.add_argument("--bvh", nargs="+", default=None, metavar="PATH",
                       help="BVH files or folders (evaluated instead of --dataset files)")
    mocap.add_argument("--styles", default=None, help="keep only these comma-separated styles (Bandai names)")
    mocap.add_argument("--cameras", choices=("random", "h36m"), default="random", help="virtual camera set")
    mocap.add_argument("--views", type=ranged(int, minimum=1, maximum=64), default=4, help="cameras per clip")
    mocap.add_argument("--noise", choices=("none", "light", "detector", "heavy"), default="none",
                       help="detector-like 2D noise level (docs/data.md)")
    mocap.add_argument("--seed", type=int, default=None, help="seed of cameras and noise (default 1234)")
    mocap.add_argument("--fps", type=FPS, default=None, help="frame rate to resample to (default: the model's)")
    mocap.add_argument("--max-seconds", type=ranged(float, minimum=0), default=4.0,
                       help="cut clips into pieces this long (0: whole)")
    mocap.add_argument("--mapping", default=None, help="JSON joint mapping for other skeletons (docs/data.md)")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write the full report as JSON")
    parser.add_argument("--markdown", default=None, metavar="OUT", help="also write the tables as Markdown")
    parser.add_argument("--no-flip", action="store_true", help="skip the flip-averaged (test-time augmentation) pass")
    parser.add_argument("--roll-tta", type=ROLL_DEGREES, default=0.0, metavar="DEGREES",
                        help="in both passes, also lift the 2D turned by +-DEGREES about the image centre and average")
    parser.add_argument("--batch-size", type=BATCH_SIZE, default=1024, help="windows per forward pass")


def _headline(report: dict[str, Any]) -> str:
    parts = []
    for variant, figures in report["variants"].items():
        avg = figures["action_average"]
        parts.append(f"{variant}: MPJPE {avg['mpjpe']:.1f} mm, P-MPJPE {avg['p_mpjpe']:.1f} mm")
    return "; ".join(parts)


def run(args: argparse.Namespace) -> int:
    import json

    import torch

    from poselift.atomic import write_text_atomic
    from poselift.errors import InputError
    from poselift.evaluation import evaluate_sequences, format_markdown, load_evaluation_data
    from poselift.inference import Lifter
    from poselift.models.registry import load_model

    model = load_model(args.model)
    if getattr(args, "bvh", None) and args.fps is None:
        args.fps = float(getattr(model, "meta", {}).get("fps", 30.0))
    data = load_evaluation_data(args)
    if not data.sequences:
        raise InputError(None, f"{data.name}: no sequences match the chosen subjects and actions")
    lifter = Lifter(model, flip=False, batch_size=args.batch_size, roll_tta=args.roll_tta)
    expected = data.skeleton.num_joints
    if lifter.num_joints != expected:
        raise InputError(
            args.model,
            f"the model takes {lifter.num_joints} joints but {data.name} has {expected} "
            f"({data.skeleton.name}); use a {expected}-joint model trained on it",
        )
    if lifter.skeleton.name != data.skeleton.name:
        raise InputError(args.model, f"the model's joint layout is {lifter.skeleton.name}, {data.name} uses "
                                     f"{data.skeleton.name}")
    dataset_fps = {round(float(s.fps), 3) for s in data.sequences}
    if lifter.fps is not None and dataset_fps and dataset_fps != {round(lifter.fps, 3)}:
        print(f"poselift: warning: the model expects {lifter.fps:g} fps, {data.name} is at "
              f"{', '.join(f'{f:g}' for f in sorted(dataset_fps))} fps", file=sys.stderr)
    with torch.inference_mode():
        report = evaluate_sequences(data, lifter.lift, flip=not args.no_flip, progress=True)
    report["model"] = {
        "source": str(args.model) if args.model else "default",
        "receptive_field": lifter.receptive_field,
        "causal": lifter.causal,
        "roll_tta_degrees": lifter.roll_tta,
        "meta": {k: v for k, v in lifter.meta.items() if isinstance(v, str | int | float | bool)},
    }
    title = f"{data.name}: {report['model']['source']} (receptive field {lifter.receptive_field})"
    if lifter.roll_tta:
        title += f", roll averaging +-{lifter.roll_tta:g} degrees"
    text = format_markdown(report, title)
    print(text)
    print(_headline(report), file=sys.stderr)
    if args.markdown:
        write_text_atomic(args.markdown, text)
    if args.json:
        write_text_atomic(args.json, json.dumps(report, indent=1, allow_nan=False) + "\n")
    return 0
