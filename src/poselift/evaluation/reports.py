"""Benchmark reports: the four error protocols per action, subject and joint, VideoPose3D style.

Takes arrays only (ground truth and one or more named prediction sets, e.g. with and without flip
averaging) keyed by (subject, action[, camera]); running a model is the caller's business. As in
VideoPose3D, an action's error is the mean over all frames of all its takes and cameras ("Walking 1" and
"Walking 2" are both "Walking"), the headline number is the mean over actions, and the ground truth is
made root-relative (joint 0 subtracted) while predictions are taken as given (root-relative already).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poselift import metrics
from poselift.errors import InputError

SequenceKey = tuple[str, ...]
"""(subject, action) or (subject, action, camera)."""

METRICS: tuple[str, ...] = tuple(metrics.PROTOCOLS)
SHORT_NAMES: dict[str, str] = {"mpjpe": "P1", "p_mpjpe": "P2", "n_mpjpe": "P3", "mpjve": "MPJVE"}


def default_action_group(action: str) -> str:
    """The action a take belongs to: the name up to the first space ("Walking 1" -> "Walking")."""
    return action.split(" ")[0]


@dataclass
class _Sums:
    """Running sums of per-joint errors (metres) and sample counts for the four protocols."""

    num_joints: int
    sums: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    frames: int = 0
    sequences: int = 0

    def __post_init__(self) -> None:
        for key in METRICS:
            self.sums.setdefault(key, np.zeros(self.num_joints))
            self.counts.setdefault(key, 0)

    def add(self, errors: Mapping[str, np.ndarray]) -> None:
        for key in METRICS:
            self.sums[key] += errors[key].sum(axis=0)
            self.counts[key] += errors[key].shape[0]
        self.frames += errors["mpjpe"].shape[0]
        self.sequences += 1

    def merged(self, other: _Sums) -> _Sums:
        out = _Sums(self.num_joints)
        for key in METRICS:
            out.sums[key] = self.sums[key] + other.sums[key]
            out.counts[key] = self.counts[key] + other.counts[key]
        out.frames = self.frames + other.frames
        out.sequences = self.sequences + other.sequences
        return out

    def per_joint_mm(self) -> dict[str, np.ndarray]:
        return {
            key: (self.sums[key] / self.counts[key] * 1000)
            if self.counts[key]
            else np.full(self.num_joints, np.nan)
            for key in METRICS
        }

    def mean_mm(self) -> dict[str, float]:
        return {
            key: _clean(self.sums[key].sum() / (self.counts[key] * self.num_joints) * 1000)
            if self.counts[key]
            else None
            for key in METRICS
        }


def _natural_key(text: str) -> list[Any]:
    """Sort key that orders S9 before S11."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _clean(value: float) -> float | None:
    """A JSON-safe float (None for NaN), rounded to 0.001 mm."""
    value = float(value)
    return None if math.isnan(value) else round(value, 3)


def _average(rows: Sequence[Mapping[str, float | None]]) -> dict[str, float | None]:
    """Unweighted mean of per-action values (VideoPose3D's action-wise average)."""
    out: dict[str, float | None] = {}
    for key in METRICS:
        values = [r[key] for r in rows if r.get(key) is not None]
        out[key] = _clean(np.mean(values)) if values else None
    return out


def _split_key(key: SequenceKey) -> tuple[str, str, str]:
    if not isinstance(key, tuple) or len(key) not in (2, 3):
        raise InputError(None, f"sequence keys must be (subject, action[, camera]), found {key!r}")
    subject, action = str(key[0]), str(key[1])
    return subject, action, str(key[2]) if len(key) == 3 else ""


def _check_pair(key: SequenceKey, predicted: np.ndarray, target: np.ndarray, variant: str) -> None:
    name = "/".join(str(k) for k in key)
    if predicted.shape != target.shape:
        raise InputError(
            None, f"{variant} prediction for {name} has shape {predicted.shape}, ground truth {target.shape}"
        )
    if not np.isfinite(predicted).all():
        raise InputError(None, f"{variant} prediction for {name} contains NaN or infinite values")


def evaluate_predictions(
    ground_truth: Mapping[SequenceKey, np.ndarray],
    predictions: Mapping[str, Mapping[SequenceKey, np.ndarray]],
    joint_names: Sequence[str] | None = None,
    action_group: Callable[[str], str] = default_action_group,
) -> dict[str, Any]:
    """All protocols per action, subject and joint for each named prediction set; a JSON-ready dict in mm.

    ground_truth: {(subject, action[, camera]): (T, J, 3) metres, camera frame}, made root-relative here.
    predictions: {variant name, e.g. "no_flip"/"flip": {same keys: (T, J, 3) root-relative metres}}.
    """
    if not ground_truth:
        raise InputError(None, "no sequences to evaluate")
    if not predictions:
        raise InputError(None, "no predictions to evaluate")
    first = np.asarray(next(iter(ground_truth.values())))
    num_joints = first.shape[-2]
    names = list(joint_names) if joint_names is not None else [str(j) for j in range(num_joints)]
    if len(names) != num_joints:
        raise InputError(None, f"{len(names)} joint names for poses with {num_joints} joints")

    targets: dict[SequenceKey, np.ndarray] = {}
    for key, pose in ground_truth.items():
        _split_key(key)
        pose = np.asarray(pose, dtype=np.float64)
        if pose.ndim != 3 or pose.shape[1:] != (num_joints, 3):
            expected = f"(T, {num_joints}, 3)"
            raise InputError(None, f"ground truth for {key!r} must be {expected}, found {pose.shape}")
        targets[key] = pose - pose[:, :1]

    report: dict[str, Any] = {
        "units": "mm",
        "protocols": dict(metrics.PROTOCOLS),
        "joint_names": names,
        "num_sequences": len(targets),
        "num_frames": int(sum(t.shape[0] for t in targets.values())),
        "variants": {},
    }
    for variant, predicted_set in predictions.items():
        missing = [k for k in targets if k not in predicted_set]
        if missing:
            example = "/".join(missing[0])
            raise InputError(None, f"{variant} predictions lack {len(missing)} sequences, e.g. {example}")
        by_subject_action: dict[tuple[str, str], _Sums] = {}
        for key, target in targets.items():
            predicted = np.asarray(predicted_set[key], dtype=np.float64)
            _check_pair(key, predicted, target, variant)
            subject, action, _ = _split_key(key)
            group = (subject, action_group(action))
            sums = by_subject_action.setdefault(group, _Sums(num_joints))
            sums.add(metrics.sequence_errors(predicted, target))
        report["variants"][variant] = _summarise(by_subject_action, names)
    return report


def _summarise(by_subject_action: Mapping[tuple[str, str], _Sums], names: Sequence[str]) -> dict[str, Any]:
    """Per-action, per-subject, per-joint and overall figures of one prediction set."""
    num_joints = len(names)
    actions: dict[str, _Sums] = {}
    subjects: dict[str, dict[str, _Sums]] = {}
    for (subject, action), sums in sorted(by_subject_action.items()):
        actions[action] = actions[action].merged(sums) if action in actions else sums
        subjects.setdefault(subject, {})[action] = sums
    total = _Sums(num_joints)
    for sums in actions.values():
        total = total.merged(sums)

    def rows(groups: Mapping[str, _Sums]) -> dict[str, dict[str, Any]]:
        return {
            name: {**s.mean_mm(), "frames": s.frames, "sequences": s.sequences}
            for name, s in sorted(groups.items())
        }

    action_rows = rows(actions)
    subject_reports = {}
    for subject, groups in sorted(subjects.items(), key=lambda item: _natural_key(item[0])):
        subject_rows = rows(groups)
        subject_total = _Sums(num_joints)
        for sums in groups.values():
            subject_total = subject_total.merged(sums)
        subject_reports[subject] = {
            "actions": subject_rows,
            "action_average": _average(list(subject_rows.values())),
            "frame_average": subject_total.mean_mm(),
        }
    per_joint = total.per_joint_mm()
    return {
        "actions": action_rows,
        "action_average": _average(list(action_rows.values())),
        "frame_average": total.mean_mm(),
        "subjects": subject_reports,
        "joints": {name: {key: _clean(per_joint[key][j]) for key in METRICS} for j, name in enumerate(names)},
    }


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def format_markdown(report: Mapping[str, Any], title: str | None = None) -> str:
    """The report as Markdown: by action (with the action-wise average), by subject, by joint; mm."""
    variants = list(report["variants"])
    columns = [(v, key) for v in variants for key in METRICS]

    def header(first: str) -> list[str]:
        suffix = (lambda v: f" {v}") if len(variants) > 1 else (lambda v: "")
        return [first] + [f"{SHORT_NAMES[key]}{suffix(v)}" for v, key in columns]

    def cells(values_of: Callable[[str], Mapping[str, float | None]]) -> list[str]:
        return [_fmt(values_of(v).get(key), 2 if key == "mpjve" else 1) for v, key in columns]

    first_variant = report["variants"][variants[0]]
    parts = []
    if title:
        parts.append(f"## {title}")
    parts.append(
        f"{report['num_sequences']} sequences, {report['num_frames']} frames; errors in mm. "
        "P1 = MPJPE, P2 = P-MPJPE (Procrustes), P3 = N-MPJPE (scale), MPJVE = velocity error (mm/frame)."
    )
    action_rows = [
        [name, *cells(lambda v, name=name: report["variants"][v]["actions"][name]), str(row["frames"])]
        for name, row in first_variant["actions"].items()
    ]
    average = cells(lambda v: report["variants"][v]["action_average"])
    action_rows.append(["**Average (actions)**", *average, ""])
    action_rows.append(
        ["All frames", *cells(lambda v: report["variants"][v]["frame_average"]), str(report["num_frames"])]
    )
    parts.append("### By action\n\n" + _table([*header("Action"), "Frames"], action_rows))
    subject_rows = [
        [subject, *cells(lambda v, s=subject: report["variants"][v]["subjects"][s]["action_average"])]
        for subject in first_variant["subjects"]
    ]
    parts.append("### By subject (mean over actions)\n\n" + _table(header("Subject"), subject_rows))
    def pair(v: str, subject: str, action: str) -> Mapping[str, float | None]:
        return report["variants"][v]["subjects"][subject]["actions"][action]

    pair_rows = [
        [f"{subject} {action}", *cells(lambda v, s=subject, a=action: pair(v, s, a)), str(row["frames"])]
        for subject, figures in first_variant["subjects"].items()
        for action, row in figures["actions"].items()
    ]
    parts.append("### By subject and action\n\n" + _table([*header("Subject, action"), "Frames"], pair_rows))
    joint_rows = [
        [joint, *cells(lambda v, j=joint: report["variants"][v]["joints"][j])]
        for joint in report["joint_names"]
    ]
    parts.append("### By joint (all frames)\n\n" + _table(header("Joint"), joint_rows))
    return "\n\n".join(parts) + "\n"
