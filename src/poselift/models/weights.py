"""poselift's weights format: safetensors with the architecture config (and facts about the weights) in its metadata.

A file alone rebuilds its model: metadata `poselift.config` holds the architecture dataclass as JSON and
`poselift.meta` free-form facts (joint layout, frame rate, input normalisation, training data, licence).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from torch import nn

from poselift.atomic import atomic_path
from poselift.errors import InputError
from poselift.models.families import build_model, config_from_dict

CONFIG_KEY = "poselift.config"
META_KEY = "poselift.meta"
FORMAT_KEY = "poselift.format"
FORMAT_VERSION = "1"

RUN_FACTS = ("epochs", "steps", "val_mpjpe_mm", "train_config")  # metadata that describes one training run

DEFAULT_META: dict[str, Any] = {
    "joint_layout": "h36m17",
    "input": "normalised screen coordinates: x/w*2-1, y/w*2-h/w (VideoPose3D)",
    "output": "root-relative 3D joints, metres, camera frame",
}


def config_to_dict(config: Any) -> dict[str, Any]:
    """An architecture dataclass as a JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(config)


def save_weights(
    model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None, *, half: bool = False
) -> Path:
    """Write a model's weights, architecture and metadata to a safetensors file, atomically.

    `half` stores the floating-point tensors as float16: half the file, for shipping; `load_weights` casts
    them back to the model's float32 (docs/model-cards.md gives what that costs the shipped default).
    """
    from safetensors.torch import save_file

    meta = {**DEFAULT_META, **(metadata or {})}
    if half:
        meta["storage_dtype"] = "float16"
    header = {
        FORMAT_KEY: FORMAT_VERSION,
        CONFIG_KEY: json.dumps(config_to_dict(model.config)),
        META_KEY: json.dumps(meta),
    }
    state = {
        k: (v.half() if half and v.is_floating_point() else v).detach().contiguous().cpu()
        for k, v in model.state_dict().items()
    }
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(state, str(tmp), metadata=header)
    return Path(path)


def read_weights_header(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(architecture dict, metadata dict) of a poselift weights file, without loading tensors."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except Exception as error:  # noqa: BLE001 - any parse failure means a corrupt or foreign file
        raise InputError(path, f"not a safetensors file ({str(error).strip().splitlines()[0]})") from None
    if CONFIG_KEY not in header:
        raise InputError(path, "safetensors file without poselift architecture metadata (convert it first)")
    try:
        return json.loads(header[CONFIG_KEY]), json.loads(header.get(META_KEY, "{}"))
    except json.JSONDecodeError:
        raise InputError(path, "corrupt poselift metadata") from None


STRUCTURE_LIMITS = {"receptive_field": 6561, "channels": 16384, "kernel_branches": 16, "kernel_groups": 16384,
                    "kernel_reduction": 16384, "num_joints_in": 1000, "num_joints_out": 1000, "in_features": 16}
"""Largest value of each integer that shapes a network: beyond them no real model exists, and even building
one on the meta device would cost time and memory out of proportion to the file."""
MAX_FILTER_WIDTHS = 12


def check_structure(config: Any, source: str | Path | None = None) -> None:
    """InputError when an architecture field is beyond STRUCTURE_LIMITS (checked before anything is built)."""
    for name, limit in STRUCTURE_LIMITS.items():
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= limit:
            raise InputError(source, f"architecture field {name} = {value} is outside 0..{limit}")
    widths = getattr(config, "filter_widths", ())
    if isinstance(widths, tuple) and len(widths) > MAX_FILTER_WIDTHS:
        raise InputError(source, f"architecture has {len(widths)} filter widths (at most {MAX_FILTER_WIDTHS})")


def planned_shapes(config: Any, source: str | Path | None = None) -> dict[str, tuple[int, ...]]:
    """The state-dict shapes the architecture `config` would have, found without allocating it (meta device).

    Any failure to build is the config's fault: an InputError naming `source`.
    """
    import torch

    from poselift.models.families import build_model

    check_structure(config, source)
    try:
        with torch.device("meta"):
            skeleton = build_model(config)
    except Exception as error:  # noqa: BLE001 - a config no model can be built from is bad input
        detail = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        raise InputError(source, f"architecture cannot be built ({detail})") from None
    return {name: tuple(value.shape) for name, value in skeleton.state_dict().items()}


def check_shapes(planned: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]],
                 source: str | Path | None) -> None:
    """InputError naming the first missing, unexpected or mis-shaped tensor, before any model is allocated."""
    missing = sorted(set(planned) - set(found))
    unexpected = sorted(set(found) - set(planned))
    if missing or unexpected:
        first = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise InputError(source, f"weights do not fit their architecture ({first}; "
                                 f"{len(missing)} missing, {len(unexpected)} unexpected tensors)")
    for name, shape in planned.items():
        if tuple(found[name]) != shape:
            raise InputError(source, f"weights do not fit their architecture ({name}: the architecture needs "
                                     f"{list(shape)}, the file holds {list(found[name])})")


def load_weights(path: str | Path) -> nn.Module:
    """Rebuild the model stored in a poselift weights file; returned in eval mode with `.meta` attached.

    Tensors stored as float16 (`save_weights(half=True)`) are cast to the model's float32 as they load. The
    architecture's tensor shapes are checked against the file's headers before the model is allocated, so
    a small file cannot make poselift build a huge network.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    config_dict, meta = read_weights_header(path)
    if not isinstance(config_dict, dict) or not isinstance(meta, dict):
        raise InputError(path, "corrupt poselift metadata (config and meta must be JSON objects)")
    try:
        config = config_from_dict(config_dict)
    except (ValueError, TypeError) as error:
        raise InputError(path, f"bad architecture config ({str(error).splitlines()[0][:160]})") from None
    planned = planned_shapes(config, path)
    with safe_open(str(path), framework="pt") as f:
        found = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    check_shapes(planned, found, path)
    try:
        model = build_model(config)
        model.load_state_dict(load_file(str(path)), strict=True)
    except (ValueError, RuntimeError) as error:
        detail = str(error).strip().splitlines()[0]
        raise InputError(path, f"weights do not fit their architecture ({detail})") from None
    model.meta = meta
    return model.eval()


def average_weights(paths: list[str | Path]) -> nn.Module:
    """The uniform average of every tensor of several weights files of one architecture (a "model soup").

    Networks fine-tuned from one common start can be averaged weight by weight (Wortsman et al., ICML 2022);
    batch-norm running statistics are averaged too, and integer counters are taken from the first file.
    The result carries the first file's metadata, plus `averaged_from` (the files in order) when there are several;
    facts of one training run (its epochs, steps, validation error and full config) are dropped: they describe one
    ingredient, not the average.
    """
    import torch

    if not paths:
        raise ValueError("average_weights needs at least one weights file")
    first = load_weights(paths[0])
    reference = config_to_dict(first.config)
    state = {k: v.double() if v.is_floating_point() else v.clone() for k, v in first.state_dict().items()}
    for path in paths[1:]:
        model = load_weights(path)
        if config_to_dict(model.config) != reference:
            raise InputError(path, f"a different architecture from {paths[0]}: weights cannot be averaged")
        for key, value in model.state_dict().items():
            if value.is_floating_point():
                state[key] += value.double()
    with torch.no_grad():
        first.load_state_dict({
            k: (v / len(paths)).float() if v.is_floating_point() else v for k, v in state.items()
        })
    if len(paths) > 1:
        kept = {k: v for k, v in first.meta.items() if k not in RUN_FACTS}
        first.meta = {**kept, "averaged_from": [str(p) for p in paths]}
    return first.eval()
