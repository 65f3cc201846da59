"""The attention-based temporal network of Liu et al. (CVPR 2020; IJCV 2021), for any depth, symmetric or causal.

A window of T = 3^L frames of 2D keypoints is lifted to the root-relative 3D pose of its target frame
(the centre, or the last frame for the causal model). See docs/models.md for the structure and how it
maps onto the authors' release.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from poselift.models.blocks import DepthwiseSeparable, KernelAttention
from poselift.models.input_norm import check_input_norm, input_channels, normalise_input, root_centred_pose


@dataclass(frozen=True)
class AttentionConfig:
    """Architecture of the attention network; stored in every weights file so the file rebuilds its model."""

    receptive_field: int = 243
    channels: int = 1024
    causal: bool = False
    dropout: float = 0.2
    num_joints_in: int = 17
    in_features: int = 2
    num_joints_out: int = 17
    temporal_attention: bool = True
    kernel_attention: bool = True
    kernel_branches: int = 3
    kernel_groups: int = 8
    kernel_reduction: int = 128
    multi_scale: bool = True
    input_norm: str = "screen"
    """How 2D input is normalised per frame (poselift.models.input_norm): "screen", "frame" or "frame_place"."""
    family: str = "atcn"

    @property
    def input_channels(self) -> int:
        """Channels per frame after input normalisation (poselift.models.input_norm.input_channels)."""
        return input_channels(self.input_norm, self.num_joints_in, self.in_features)

    @property
    def depth(self) -> int:
        """L, with receptive_field = 3^L."""
        depth, size = 0, 1
        while size < self.receptive_field:
            size, depth = size * 3, depth + 1
        return depth

    def validate(self) -> None:
        if self.receptive_field < 3 or 3 ** self.depth != self.receptive_field:
            raise ValueError(f"receptive_field must be a power of 3 (at least 3), got {self.receptive_field}")
        if self.channels % self.kernel_groups:
            raise ValueError(f"channels ({self.channels}) must be divisible by kernel_groups ({self.kernel_groups})")
        check_input_norm(self.input_norm)


def _offset(step: int, causal: bool) -> int:
    """Where sampling every `step` frames starts: the centre of each group, or its last frame (causal)."""
    return step - 1 if causal else (step - 1) // 2


class TemporalGate(nn.Module):
    """Temporal attention: cosine similarity of every frame to the target frame -> per-position sigmoid gate."""

    def __init__(self, window: int, positions: int, bn_momentum: float = 0.1):
        super().__init__()
        self.linear = nn.Linear(window, positions)
        self.bn = nn.BatchNorm1d(positions, momentum=bn_momentum)

    def forward(self, score: torch.Tensor) -> torch.Tensor:
        """score (B, T) -> gate (B, 1, positions)."""
        return torch.sigmoid(self.bn(self.linear(score))).unsqueeze(1)


class SkipBranch(nn.Module):
    """A multi-scale branch from one layer to a deeper one: DWSep + Mish, then a residual 1x1 unit."""

    def __init__(self, channels: int, dropout: float):
        super().__init__()
        self.dwsep = DepthwiseSeparable(channels, channels)
        self.pointwise = nn.Conv1d(channels, channels, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm1d(channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        x = self.drop(F.mish(self.dwsep(x)))
        return residual + self.drop(F.mish(self.bn(self.pointwise(x))))


class AttentionLayer(nn.Module):
    """One temporal level: kernel attention shortens time by 3, then a residual 1x1 unit."""

    def __init__(self, config: AttentionConfig):
        super().__init__()
        c = config.channels
        self.kernel_attention = KernelAttention(
            c,
            branches=config.kernel_branches if config.kernel_attention else 1,
            groups=config.kernel_groups,
            reduction=config.kernel_reduction,
            causal=config.causal,
        )
        self.pointwise = nn.Conv1d(c, c, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm1d(c)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.kernel_attention(x))
        return residual + self.drop(F.mish(self.bn(self.pointwise(x))))


class AttentionTemporalNet(nn.Module):
    """Liu et al.'s network: (B, receptive_field, J, 2) windows -> (B, 1, J, 3) root-relative 3D, metres."""

    def __init__(self, config: AttentionConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.receptive_field = config.receptive_field
        self.causal = config.causal
        depth, c = config.depth, config.channels
        cin = config.input_channels
        self.num_layers = depth - 1
        self.stem = DepthwiseSeparable(cin, c)
        # Input branch k (1 <= k <= L-2) samples the input every 3^k frames and joins layer k.
        self.input_branches = nn.ModuleList(
            DepthwiseSeparable(cin, c) for _ in range(1, depth - 1) if config.multi_scale
        )
        # Skip branch from layer i to layer i+1+k, in the release's order (0->2), (0->3), (1->3), ...
        self.skip_routes: list[tuple[int, int]] = [
            (i, k) for i in range(self.num_layers) for k in range(1, depth) if i + 1 + k <= depth - 2
        ] if config.multi_scale else []
        self.skips = nn.ModuleList(SkipBranch(c, config.dropout) for _ in self.skip_routes)
        self.layers = nn.ModuleList(AttentionLayer(config) for _ in range(self.num_layers))
        self.gates = nn.ModuleList(
            TemporalGate(config.receptive_field, config.receptive_field // 3 ** (i + 1))
            for i in range(self.num_layers)
        ) if config.temporal_attention else nn.ModuleList()
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Conv1d(c, config.num_joints_out * 3, kernel_size=1)

    def set_bn_momentum(self, momentum: float) -> None:
        """Set the momentum of every batch-norm layer (the recipe decays it over training)."""
        for module in self.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.momentum = momentum

    def attention_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of each root-centred frame to the root-centred target frame: (B, T)."""
        centred = root_centred_pose(x, self.config.num_joints_in)  # (B, T, 2J)
        target = centred[:, -1:] if self.causal else centred[:, centred.shape[1] // 2 :][:, :1]
        return F.cosine_similarity(centred, target, dim=-1, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, frames = x.shape[:2]
        if frames != self.receptive_field:
            raise ValueError(f"expected windows of {self.receptive_field} frames, got {frames}")
        x = normalise_input(x, self.config.input_norm)
        score = self.attention_scores(x) if self.gates else None
        seq = x.flatten(2).transpose(1, 2)  # (B, 2J, T), channel = 2*j + coord
        causal = self.causal
        incoming: dict[int, list[torch.Tensor]] = {}
        for k, branch in enumerate(self.input_branches, start=1):
            step = 3**k
            sampled = seq[..., _offset(step, causal) :: step]
            incoming.setdefault(k, []).append(self.drop(F.mish(branch(sampled))))
        h = self.drop(F.mish(self.stem(seq)))
        for i, layer in enumerate(self.layers):
            gate = self.gates[i](score) if self.gates else None
            residual = h[..., _offset(3, causal) :: 3]
            gated = h * gate if gate is not None else h
            for (source, k), skip in zip(self.skip_routes, self.skips, strict=True):
                if source == i:
                    step = 3**k
                    start = _offset(step, causal)
                    incoming.setdefault(i + 1 + k, []).append(
                        skip(gated[..., start::step], residual[..., start::step])
                    )
            layer_input = h
            for extra in incoming.pop(i, []):
                layer_input = layer_input + extra
            if gate is not None:
                layer_input = layer_input * gate
            h = layer(layer_input, residual)
        out = self.head(h)  # (B, 3J, 1)
        return out.transpose(1, 2).reshape(batch, 1, self.config.num_joints_out, 3)
