"""`poselift evaluate`: benchmark a model on Human3.6M or HumanEva-I (community files), all four protocols.

The dataset-specific part is `load_evaluation_data(args)`, which returns sequences; everything after it
(lifting with and without flip averaging, the report) works on any list of PoseSequence, so other
sources (e.g. motion capture through synthesis) only add a branch there.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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


@dataclass
class EvaluationData:
    """What to evaluate on: sequences (2D input, 3D ground truth) and how to describe and group them."""

    sequences: list[Any]
    skeleton: Any
    name: str
    sources: dict[str, str] = field(default_factory=dict)
    action_group: Callable[[str], str] | None = None


def _split(text: str | None, default: Sequence[str] | None) -> list[str] | None:
    if text is None:
        return None if default is None else list(default)
    if text.strip().lower() in ("all", "*", ""):
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def load_evaluation_data(args: argparse.Namespace) -> EvaluationData:
    """The dataset-specific part: read the files named by the arguments into PoseSequences."""
    from poselift.errors import InputError

    if getattr(args, "bvh", None):
        from poselift.data.mocap_eval import DEFAULT_EVAL_SEED, mocap_evaluation_sequences
        from poselift.skeleton import H36M17

        seed = DEFAULT_EVAL_SEED if args.seed is None else args.seed
        sequences = mocap_evaluation_sequences(
            args.bvh, cameras=args.cameras, views_per_clip=args.views, noise=args.noise,
            fps=args.fps or 30.0, seed=seed, max_seconds=args.max_seconds or None,
            styles=_split(args.styles, None), mapping=args.mapping,
        )
        sources = {"bvh": ", ".join(map(str, args.bvh)), "cameras": args.cameras, "views": str(args.views),
                   "noise": args.noise, "seed": str(seed), "styles": args.styles or "all"}
        return EvaluationData(sequences, H36M17, "motion capture", sources)
    if not args.data_3d or not args.data_2d:
        raise InputError(None, f"--dataset {args.dataset} needs --data-3d and --data-2d")
    sources = {"data_3d": str(args.data_3d), "data_2d": str(args.data_2d)}
    if args.dataset == "h36m":
        from poselift.data import h36m
        from poselift.skeleton import H36M17

        subjects = _split(args.subjects, h36m.TEST_SUBJECTS)
        actions = _split(args.actions, None)
        sequences = h36m.load_h36m_sequences(args.data_3d, args.data_2d, subjects, actions)
        return EvaluationData(sequences, H36M17, "Human3.6M", sources, h36m.normalize_action_name)
    if args.dataset == "humaneva":
        from poselift.data import humaneva
        from poselift.skeleton import HUMANEVA15

        subjects = _split(args.subjects, humaneva.TEST_SUBJECTS)
        actions = _split(args.actions, humaneva.TEST_ACTIONS)
        sequences = humaneva.load_humaneva_sequences(args.data_3d, args.data_2d, subjects, actions)
        return EvaluationData(sequences, HUMANEVA15, "HumanEva-I", sources)
    raise InputError(None, f"unknown dataset {args.dataset!r}")


LiftFn = Callable[[np.ndarray], np.ndarray]
"""(T, J, 2) normalised screen coordinates -> (T, J, 3) root-relative metres (no flip averaging)."""


def predict(
    sequences: Sequence[Any], lift: LiftFn, skeleton: Any, flip: bool = True, progress: bool = False
) -> dict[str, dict[tuple[str, str, str], np.ndarray]]:
    """Lift every sequence: {"no_flip": {key: (T, J, 3)}, "flip": {...}} (flip = mean with the mirrored pass).

    The flip pass mirrors the 2D input (negate x, swap left/right), lifts it, mirrors the output back and
    averages it with the direct output: the same test-time augmentation as Lifter(flip=True), in 2 passes.
    """
    from poselift.skeleton import flip_poses

    out: dict[str, dict[tuple[str, str, str], np.ndarray]] = {"no_flip": {}}
    if flip:
        out["flip"] = {}
    iterator: Any = sequences
    if progress:
        from tqdm import tqdm

        iterator = tqdm(sequences, desc="lifting", unit="seq", disable=not sys.stderr.isatty())
    for seq in iterator:
        key = (seq.subject, seq.action, seq.camera)
        direct = np.asarray(lift(seq.keypoints_2d), dtype=np.float64)
        out["no_flip"][key] = direct.astype(np.float32)  # float32 storage: the whole test set stays small
        if flip:
            mirrored = flip_poses(np.asarray(seq.keypoints_2d), skeleton)
            back = flip_poses(np.asarray(lift(mirrored), dtype=np.float64), skeleton)
            out["flip"][key] = ((direct + back) / 2).astype(np.float32)
    return out


def evaluate_sequences(
    data: EvaluationData, lift: LiftFn, flip: bool = True, progress: bool = False
) -> dict[str, Any]:
    """Lift the sequences and build the report (poselift.evaluation) for both prediction sets."""
    from poselift.errors import InputError
    from poselift.evaluation import default_action_group, evaluate_predictions

    if not data.sequences:
        raise InputError(None, f"{data.name}: no sequences match the chosen subjects and actions")
    ground_truth = {(s.subject, s.action, s.camera): s.poses_3d for s in data.sequences}
    if len(ground_truth) != len(data.sequences):
        raise InputError(None, f"{data.name}: duplicate (subject, action, camera) sequences")
    predictions = predict(data.sequences, lift, data.skeleton, flip=flip, progress=progress)
    report = evaluate_predictions(
        ground_truth, predictions, data.skeleton.joint_names, data.action_group or default_action_group
    )
    report["dataset"] = data.name
    report["sources"] = dict(data.sources)
    report["subjects"] = sorted({s.subject for s in data.sequences})
    return report


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
    from poselift.evaluation import format_markdown
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
