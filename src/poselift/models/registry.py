"""The model registry (timm style): named variants, `create_model`, `list_models`, `load_model`.

Each variant is a small registered function returning its architecture config. Shipped pretrained
weights are declared beside the variants (`PRETRAINED`) with their metadata; a local file always wins.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from torch import nn

from poselift.errors import InputError
from poselift.models.attention import AttentionConfig
from poselift.models.families import ModelConfig, build_model
from poselift.models.videopose3d import VideoPose3DConfig
from poselift.models.weights import load_weights

_VARIANTS: dict[str, Callable[[], ModelConfig]] = {}


def register_model(fn: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
    """Register a variant under its function's name."""
    _VARIANTS[fn.__name__] = fn
    return fn


def model_config(name: str, **overrides: Any) -> ModelConfig:
    """A registered variant's config, with field overrides (e.g. channels=256, causal=True)."""
    if name not in _VARIANTS:
        raise InputError(None, f"unknown model {name!r}; `poselift models` lists them")
    config = _VARIANTS[name]()
    try:
        return dataclasses.replace(config, **overrides)
    except TypeError as error:
        raise InputError(None, f"bad override for {name}: {error}") from None


def create_model(name: str, **overrides: Any) -> nn.Module:
    """A freshly initialised (random) model of a registered variant."""
    return build_model(model_config(name, **overrides))


def list_models(pattern: str = "*") -> list[str]:
    """Registered variant names matching a glob pattern, sorted."""
    return sorted(n for n in _VARIANTS if fnmatch.fnmatch(n, pattern))


# --- the paper's attention network -------------------------------------------------------------

@register_model
def atcn_27f() -> ModelConfig:
    return AttentionConfig(receptive_field=27)


@register_model
def atcn_81f() -> ModelConfig:
    return AttentionConfig(receptive_field=81)


@register_model
def atcn_243f() -> ModelConfig:
    return AttentionConfig(receptive_field=243)


@register_model
def atcn_729f() -> ModelConfig:
    return AttentionConfig(receptive_field=729)


@register_model
def atcn_27f_causal() -> ModelConfig:
    return AttentionConfig(receptive_field=27, causal=True)


@register_model
def atcn_81f_causal() -> ModelConfig:
    return AttentionConfig(receptive_field=81, causal=True)


@register_model
def atcn_243f_causal() -> ModelConfig:
    return AttentionConfig(receptive_field=243, causal=True)


@register_model
def atcn_729f_causal() -> ModelConfig:
    return AttentionConfig(receptive_field=729, causal=True)


# --- VideoPose3D, the baseline ----------------------------------------------------------------

@register_model
def videopose3d_1f() -> ModelConfig:
    """Single-frame lifter (receptive field 1): the floor of temporal models."""
    return VideoPose3DConfig(filter_widths=(1, 1, 1))


@register_model
def videopose3d_27f() -> ModelConfig:
    return VideoPose3DConfig(filter_widths=(3, 3, 3))


@register_model
def videopose3d_81f() -> ModelConfig:
    return VideoPose3DConfig(filter_widths=(3, 3, 3, 3))


@register_model
def videopose3d_243f() -> ModelConfig:
    return VideoPose3DConfig(filter_widths=(3, 3, 3, 3, 3))


@register_model
def videopose3d_243f_causal() -> ModelConfig:
    return VideoPose3DConfig(filter_widths=(3, 3, 3, 3, 3), causal=True)


# --- shipped weights ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PretrainedWeights:
    """Weights shipped inside the package, with what a user needs to know before using them."""

    name: str
    file: str
    description: str
    """What the model is for; the release adds its receptive field and width (scripts/release_weights.py)."""
    licence: str
    training_data: str = (
        "Bandai Namco Research Motion Dataset 1 and 2 (Kobayashi et al., 2023, arXiv:2306.08861), CC BY-NC 4.0; "
        "styles 'childish' and 'youthful' held out for validation"
    )
    """The data's attribution, written into the released file's metadata (scripts/release_weights.py)."""


MOCAP_LICENCE = "CC BY-NC 4.0 (non-commercial use only; trained on the Bandai Namco Research Motion Dataset)"
CMU_LICENCE = (
    "free for research and commercial use (trained on CMU Graphics Lab Motion Capture Database data only). "
    "The data used in this project was obtained from mocap.cs.cmu.edu. "
    "The database was created with funding from NSF EIA-0196217."
)

PRETRAINED: dict[str, PretrainedWeights] = {
    info.name: info
    for info in (
        PretrainedWeights(
            name="atcn_27f_mocap",
            file="atcn_27f_mocap.safetensors",
            description=(
                "attention network, per-frame shape and placement input, symmetric: "
                "the default for offline video"
            ),
            licence=MOCAP_LICENCE,
        ),
        PretrainedWeights(
            name="atcn_27f_causal_mocap",
            file="atcn_27f_causal_mocap.safetensors",
            description=(
                "attention network, per-frame shape and placement input, causal: "
                "the default for live use"
            ),
            licence=MOCAP_LICENCE,
        ),
        PretrainedWeights(
            name="atcn_27f_cmu",
            file="atcn_27f_cmu.safetensors",
            description=(
                "attention network, per-frame shape and placement input, symmetric, trained on CMU motion only: "
                "the model for commercial use"
            ),
            licence=CMU_LICENCE,
            training_data=(
                "CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu), cgspeed Daz-friendly BVH, "
                "subjects 01-10; subjects 11-12 for validation, 13-14 held out for the test report"
            ),
        ),
    )
}
"""Weights shipped in the package (docs/model-cards.md); each trained by the recipe in recipes/<name>/."""
DEFAULT_MODEL = "atcn_27f_mocap"
DEFAULT_CAUSAL_MODEL = "atcn_27f_causal_mocap"


def pretrained_path(name: str) -> Path | None:
    """Where a shipped weights file lies inside the package, or None when it is not shipped."""
    info = PRETRAINED.get(name)
    if info is None:
        return None
    path = Path(str(resources.files("poselift") / "weights" / info.file))
    return path if path.is_file() else None


def load_model(name_or_path: str | Path | None = None) -> nn.Module:
    """A model with weights: a local weights file, a shipped pretrained name, or the default model."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    path = Path(name_or_path)
    if path.suffix in (".safetensors", ".pt", ".bin") or path.exists():
        return load_weights(path)
    name = str(name_or_path)
    shipped = pretrained_path(name)
    if shipped is not None:
        return load_weights(shipped)
    if name in _VARIANTS:
        raise InputError(None, f"{name} has no shipped weights; pass a weights file, or convert a checkpoint")
    known = ", ".join(sorted(PRETRAINED)) or "none"
    raise InputError(None, f"{name}: no such file or pretrained model (shipped: {known})")
