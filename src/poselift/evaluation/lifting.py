"""Lifting an evaluation set, with and without flip averaging, and its report (all four protocols)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from poselift.errors import InputError
from poselift.evaluation.datasets import EvaluationData
from poselift.evaluation.reports import default_action_group, evaluate_predictions
from poselift.skeleton import flip_average, flip_poses

LiftFn = Callable[[np.ndarray], np.ndarray]
"""(T, J, 2) normalised screen coordinates -> (T, J, 3) root-relative metres (no flip averaging)."""


def predict(
    sequences: Sequence[Any], lift: LiftFn, skeleton: Any, flip: bool = True, progress: bool = False
) -> dict[str, dict[tuple[str, str, str], np.ndarray]]:
    """Lift every sequence: {"no_flip": {key: (T, J, 3)}, "flip": {...}} (flip = mean with the mirrored pass).

    The flip pass mirrors the 2D input (negate x, swap left/right), lifts it, mirrors the output back and
    averages it with the direct output: the same test-time augmentation as Lifter(flip=True), in 2 passes.
    """
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
            lifted = np.asarray(lift(mirrored), dtype=np.float64)
            out["flip"][key] = flip_average(direct, lifted, skeleton.flip_permutation()).astype(np.float32)
    return out


def evaluate_sequences(
    data: EvaluationData, lift: LiftFn, flip: bool = True, progress: bool = False
) -> dict[str, Any]:
    """Lift the sequences and build the report (poselift.evaluation.reports) for both prediction sets."""
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
