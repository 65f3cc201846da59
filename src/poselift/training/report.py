"""A run's human-readable outputs: metrics.csv, metrics.jsonl and training-curves.png, rewritten atomically.

Each file is a function of the metric history (one dict per epoch) kept in the checkpoint, so a resumed run
rewrites exactly what an uninterrupted one would have (timings aside).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from poselift.atomic import atomic_path, write_text_atomic


def write_metrics(run_dir: str | Path, history: list[dict[str, Any]]) -> None:
    """Write the history as metrics.jsonl (one JSON object per epoch) and metrics.csv (one row per epoch)."""
    run_dir = Path(run_dir)
    write_text_atomic(run_dir / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in history))
    columns: list[str] = []
    for row in history:
        columns.extend(key for key in row if key not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(run_dir / "metrics.csv", buffer.getvalue())


def plot_curves(path: str | Path, history: list[dict[str, Any]]) -> bool:
    """Draw the training loss, validation errors and learning rate per epoch to a PNG; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        return False
    epochs = [row["epoch"] for row in history]
    fig, (ax_err, ax_lr) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=(3, 1))
    for key, label in (
        ("train_loss_mm", "train loss (mm)"),
        ("val_mpjpe_mm", "val MPJPE (mm)"),
        ("val_p_mpjpe_mm", "val P-MPJPE (mm)"),
    ):
        values = [row.get(key) for row in history]
        if any(v is not None for v in values):
            ax_err.plot(epochs, values, marker="o", markersize=3, label=label)
    ax_err.set_ylabel("error (mm)")
    ax_err.grid(alpha=0.3)
    ax_err.legend()
    ax_lr.plot(epochs, [row.get("lr") for row in history], color="grey")
    ax_lr.set_yscale("log")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_xlabel("epoch")
    ax_lr.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return True
