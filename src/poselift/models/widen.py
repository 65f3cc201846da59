"""Widen a trained network to more channels without changing what it computes (Net2WiderNet).

Chen, Goodfellow and Shlens, "Net2Net: Accelerating Learning via Knowledge Transfer" (ICLR 2016): each new
channel copies an existing one (its incoming weights and batch-norm statistics), and every consumer of a
copied channel divides its weights over the copies, so the wider network starts with the narrow one's output
and training is left to use the new capacity. Used by `init_weights` to grow a shipped model.

Works on any model whose layers all scale with one `channels` setting (the attention network and
VideoPose3D's): the tensors are matched by name between the narrow and the wide model, and every dimension
whose size differs is a channel dimension. Grouped 1x1 convolutions keep each copy inside its group.
"""

from __future__ import annotations

import torch
from torch import nn


def channel_map(old: int, new: int, groups: int, generator: torch.Generator) -> torch.Tensor:
    """For each of `new` channels, the old channel it copies: the first old/groups of every group map to
    themselves, the rest to a random channel of the same group (so grouped convolutions stay grouped)."""
    if new < old or new % groups or old % groups:
        raise ValueError(f"cannot widen {old} to {new} channels in {groups} groups")
    old_size, new_size = old // groups, new // groups
    source = torch.empty(new, dtype=torch.long)
    for group in range(groups):
        extra = torch.randint(0, old_size, (new_size - old_size,), generator=generator)
        source[group * new_size : (group + 1) * new_size] = group * old_size + torch.cat(
            [torch.arange(old_size), extra]
        )
    return source


def _widen_tensor(
    name: str, old: torch.Tensor, shape: torch.Size, source: torch.Tensor, share: torch.Tensor, grouped: bool
) -> torch.Tensor:
    """One parameter or buffer: copy along the output (first) dimension, split over copies along the input one."""
    value = old
    if value.dim() >= 1 and value.shape[0] != shape[0]:
        value = value[source]
    if value.dim() >= 2 and value.shape[1] != shape[1]:
        if grouped:
            # Grouped conv: input slot l of output o is channel (o's group) * new_size + l.
            new_size, old_size = shape[1], value.shape[1]
            group_of_row = torch.arange(shape[0]) // new_size
            inputs = group_of_row[:, None] * new_size + torch.arange(new_size)[None, :]  # (C_new, new_size)
            old_inputs = source[inputs] - group_of_row[:, None] * old_size
            value = torch.gather(value, 1, old_inputs.unsqueeze(-1).expand(-1, -1, value.shape[2]))
            value = value / share[source[inputs]].unsqueeze(-1).to(value.dtype)
        else:
            scale = share[source].to(value.dtype).reshape(1, -1, *([1] * (value.dim() - 2)))
            value = value[:, source] / scale
    if value.shape != shape:
        raise ValueError(f"{name}: cannot widen {tuple(old.shape)} to {tuple(shape)}")
    return value


def channel_groups(model: nn.Module) -> int:
    """The group count of the model's grouped (not depthwise) convolutions, 1 if it has none."""
    counts = {module.groups for module in _grouped_convs(model).values()}
    if len(counts) > 1:
        raise ValueError(f"grouped convolutions with different group counts {sorted(counts)}")
    return counts.pop() if counts else 1


def _grouped_convs(model: nn.Module) -> dict[str, nn.Conv1d]:
    """The model's grouped convolutions (neither plain nor depthwise), by module name."""
    return {
        name: module for name, module in model.named_modules()
        if isinstance(module, nn.Conv1d) and 1 < module.groups < module.in_channels
    }


def widen_state(narrow: nn.Module, wide: nn.Module, noise: float = 0.0, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict for `wide` that computes what `narrow` computes; `noise` (relative std) perturbs the
    copies' incoming weights to break their symmetry. Both models must differ only in channel count."""
    narrow_state, wide_state = narrow.state_dict(), wide.state_dict()
    groups = channel_groups(wide)
    if narrow_state.keys() != wide_state.keys():
        missing = sorted(narrow_state.keys() ^ wide_state.keys())[:3]
        raise ValueError(f"the models differ in more than their width (tensors {missing})")
    old = new = None
    for key, tensor in narrow_state.items():
        if tensor.dim() >= 1 and tensor.shape[0] != wide_state[key].shape[0]:
            old, new = tensor.shape[0], wide_state[key].shape[0]
            break
    if old is None:
        return {key: tensor.clone() for key, tensor in narrow_state.items()}
    generator = torch.Generator().manual_seed(seed)
    source = channel_map(old, new, groups, generator)
    share = torch.bincount(source, minlength=old)
    grouped_convs = {f"{name}.weight" for name in _grouped_convs(wide)}
    # channel_map puts each group's originals first; the channels after them are the copies.
    is_copy = torch.arange(new) % (new // groups) >= old // groups
    state = {}
    for key, tensor in narrow_state.items():
        target = wide_state[key]
        if not tensor.is_floating_point():
            state[key] = tensor.clone()
            continue
        value = _widen_tensor(key, tensor, target.shape, source, share, key in grouped_convs)
        copied_rows = value.dim() >= 2 and tensor.shape[0] != target.shape[0]
        if noise and copied_rows and key.endswith("weight"):
            spread = value.std() * noise
            value = value.clone()
            value[is_copy] += torch.randn(value[is_copy].shape, generator=generator) * spread
        state[key] = value.contiguous()
    return state

