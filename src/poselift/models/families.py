"""The model families: each one's architecture config class and network class, in one table.

The registry (named variants) and the weights loader (a file's stored config) both build networks from
this table, so neither imports the other to do it, and a new family is added here once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from torch import nn

from poselift.models.attention import AttentionConfig, AttentionTemporalNet
from poselift.models.videopose3d import VideoPose3DConfig, VideoPose3DNet

ModelConfig = AttentionConfig | VideoPose3DConfig


@dataclass(frozen=True)
class ModelFamily:
    """One architecture family: the name its configs store in `family`, its config and network classes."""

    name: str
    config_class: type
    network_class: type[nn.Module]


FAMILIES: dict[str, ModelFamily] = {
    family.name: family
    for family in (
        ModelFamily("atcn", AttentionConfig, AttentionTemporalNet),
        ModelFamily("videopose3d", VideoPose3DConfig, VideoPose3DNet),
    )
}
"""Every family by the name stored in its configs' `family` field."""


def build_model(config: ModelConfig) -> nn.Module:
    """The network for an architecture config."""
    for family in FAMILIES.values():
        if isinstance(config, family.config_class):
            return family.network_class(config)
    raise TypeError(f"not a model config: {config!r}")


def config_from_dict(data: dict[str, Any]) -> ModelConfig:
    """Rebuild an architecture dataclass from its dict (as stored in a weights file); `family` picks the class."""
    name = data.get("family")
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}")
    cls = FAMILIES[name].config_class
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown config fields {sorted(unknown)} for {name}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**values)
