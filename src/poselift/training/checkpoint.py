"""Training checkpoints: everything needed to continue a run bit-for-bit, written atomically.

A checkpoint holds the model and optimiser states (Lookahead's slow weights included), the loop counters
(epoch, batch within the epoch, global step), the metric history, and the torch / numpy / Python RNG
states of every rank. The window order and flips are functions of (seed, epoch), so the counters are the
sampler's whole state. Loaded with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poselift.atomic import atomic_path
from poselift.errors import InputError

FORMAT = "poselift-train-checkpoint"
VERSION = 1


def capture_rng_state() -> dict[str, Any]:
    """The torch, numpy (global) and Python `random` generator states, as weights_only-loadable data."""
    np_state = np.random.get_state(legacy=False)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": random.getstate(),
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore what `capture_rng_state` returned."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state((
        "MT19937", np_state["key"].numpy().astype(np.uint32), np_state["pos"], np_state["has_gauss"],
        np_state["gauss"],
    ))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(path: str | Path, checkpoint: dict[str, Any]) -> None:
    """Write a checkpoint dict atomically (a crash mid-write leaves the previous checkpoint intact)."""
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save({"format": FORMAT, "version": VERSION, **checkpoint}, tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`; a one-line InputError when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such checkpoint")
    from poselift.array_files import check_zip_inflation

    check_zip_inflation(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means a corrupt or foreign file
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(path, f"not a readable training checkpoint ({detail[:200]})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise InputError(path, "not a poselift training checkpoint")
    if checkpoint.get("version") != VERSION:
        raise InputError(path, f"checkpoint version {checkpoint.get('version')} is not supported (need {VERSION})")
    return checkpoint
