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


def load_weights(path: str | Path) -> nn.Module:
    """Rebuild the model stored in a poselift weights file; returned in eval mode with `.meta` attached.

    Tensors stored as float16 (`save_weights(half=True)`) are cast to the model's float32 as they load.
    """
    from safetensors.torch import load_file

    config_dict, meta = read_weights_header(path)
    try:
        model = build_model(config_from_dict(config_dict))
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
