"""What to evaluate on: Human3.6M or HumanEva-I community files, or motion capture through the synthesis.

`load_evaluation_data(args)` is the only dataset-specific step; everything after it (`poselift.evaluation.
lifting`, `poselift.evaluation.reports`) works on any list of PoseSequence, so another source only adds a
branch here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


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
        from poselift.evaluation.mocap import DEFAULT_EVAL_SEED, mocap_evaluation_sequences
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
