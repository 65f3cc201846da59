"""Evaluation as a library: what to evaluate on, lifting it, and the reports. Modules:

- datasets: `EvaluationData`, `load_evaluation_data` (Human3.6M / HumanEva-I files, or motion capture)
- mocap: `mocap_evaluation_sequences` (held-out BVH clips through the training-pair synthesis, seeded)
- lifting: `predict` (with and without flip averaging), `evaluate_sequences` (lift, then report)
- reports: `evaluate_predictions`, `format_markdown` (the four protocols per action, subject and joint)

`poselift evaluate` (commands/evaluate.py) only parses arguments and prints; validation during training is
`poselift.training.validation`.
"""

from __future__ import annotations

from poselift.evaluation.datasets import EvaluationData, load_evaluation_data
from poselift.evaluation.lifting import LiftFn, evaluate_sequences, predict
from poselift.evaluation.reports import (
    METRICS,
    SHORT_NAMES,
    SequenceKey,
    default_action_group,
    evaluate_predictions,
    format_markdown,
)

__all__ = [
    "METRICS", "SHORT_NAMES", "EvaluationData", "LiftFn", "SequenceKey", "default_action_group",
    "evaluate_predictions", "evaluate_sequences", "format_markdown", "load_evaluation_data", "predict",
]
