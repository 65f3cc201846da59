"""VideoPose3D's temporal convolutional network (Pavllo et al., CVPR 2019), the baseline.

One set of weights, two forms: the full-sequence form (dilated convolutions, one pass over a whole
sequence, computation shared between neighbouring output frames) and the strided training form
(kernel = stride, one output per window). They give the same outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from poselift.models.input_norm import check_input_norm, input_channels, normalise_input


@dataclass(frozen=True)
class VideoPose3DConfig:
    """Architecture of VideoPose3D's network; the receptive field is the product of the filter widths."""

    filter_widths: tuple[int, ...] = (3, 3, 3, 3, 3)
    channels: int = 1024
    causal: bool = False
    dropout: float = 0.25
    num_joints_in: int = 17
    in_features: int = 2
    num_joints_out: int = 17
    input_norm: str = "screen"
    """How 2D input is normalised per frame (poselift.models.input_norm): "screen", "frame" or "frame_place"."""
    family: str = "videopose3d"

    @property
    def input_channels(self) -> int:
        """Channels per frame after input normalisation (poselift.models.input_norm.input_channels)."""
        return input_channels(self.input_norm, self.num_joints_in, self.in_features)

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)

    def validate(self) -> None:
        if not self.filter_widths or any(w < 1 or (w > 1 and w % 2 == 0) for w in self.filter_widths):
            raise ValueError(f"filter widths must be odd and positive, got {self.filter_widths}")
        check_input_norm(self.input_norm)


class VideoPose3DBlock(nn.Module):
    """Dilated conv -> BN -> ReLU -> Dropout, then 1x1 conv -> BN -> ReLU -> Dropout, plus the residual."""

    def __init__(self, channels: int, width: int, dilation: int, causal: bool, dropout: float):
        super().__init__()
        self.width, self.dilation, self.causal = width, dilation, causal
        self.dilated = nn.Conv1d(channels, channels, width, dilation=dilation, bias=False)
        self.dilated_bn = nn.BatchNorm1d(channels)
        self.pointwise = nn.Conv1d(channels, channels, 1, bias=False)
        self.pointwise_bn = nn.BatchNorm1d(channels)
        self.drop = nn.Dropout(dropout)

    def _finish(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        x = self.drop(F.relu(self.dilated_bn(x)))
        return residual + self.drop(F.relu(self.pointwise_bn(self.pointwise(x))))

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Full-sequence form: (B, C, N) -> (B, C, N - (width-1)*dilation)."""
        pad = (self.width - 1) * self.dilation // 2
        shift = pad if self.causal else 0
        residual = x[:, :, pad + shift : x.shape[2] - pad + shift]
        return self._finish(self.dilated(x), residual)

    def forward_strided(self, x: torch.Tensor) -> torch.Tensor:
        """Training form: the same kernel applied with stride = width: (B, C, N) -> (B, C, N / width)."""
        start = (self.width - 1) if self.causal else self.width // 2
        residual = x[:, :, start :: self.width]
        y = F.conv1d(x, self.dilated.weight, stride=self.width)
        return self._finish(y, residual)


class VideoPose3DNet(nn.Module):
    """(B, T, J, 2) -> (B, T - receptive_field + 1, J, 3); output i is lifted from input frames i..i+RF-1.

    Its target frame is the centre of that span, or the last frame when causal.
    """

    def __init__(self, config: VideoPose3DConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.receptive_field = config.receptive_field
        self.causal = config.causal
        cin, c = config.input_channels, config.channels
        widths = config.filter_widths
        self.expand_conv = nn.Conv1d(cin, c, widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(c)
        blocks, dilation = [], widths[0]
        for width in widths[1:]:
            blocks.append(VideoPose3DBlock(c, width, dilation, config.causal, config.dropout))
            dilation *= width
        self.blocks = nn.ModuleList(blocks)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Conv1d(c, config.num_joints_out * 3, 1)

    def set_bn_momentum(self, momentum: float) -> None:
        """Set the momentum of every batch-norm layer."""
        for module in self.modules():
            if isinstance(module, nn.BatchNorm1d):
                module.momentum = momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Windows of exactly receptive_field frames use the strided form; longer inputs the full-sequence one."""
        if x.shape[1] == self.receptive_field:
            return self.forward_strided(x)
        return self.forward_sequence(x)

    def _output(self, h: torch.Tensor, batch: int) -> torch.Tensor:
        out = self.head(h)
        return out.transpose(1, 2).reshape(batch, -1, self.config.num_joints_out, 3)

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Full-sequence form: one pass over (B, T, J, 2), T >= receptive_field."""
        if x.shape[1] < self.receptive_field:
            raise ValueError(f"need at least {self.receptive_field} frames, got {x.shape[1]}")
        x = normalise_input(x, self.config.input_norm)
        h = self.drop(F.relu(self.expand_bn(self.expand_conv(x.flatten(2).transpose(1, 2)))))
        for block in self.blocks:
            h = block.forward_sequence(h)
        return self._output(h, x.shape[0])

    def forward_strided(self, x: torch.Tensor) -> torch.Tensor:
        """Strided training form over windows: (B, RF * n, J, 2) -> (B, n, J, 3) for non-overlapping windows."""
        seq = normalise_input(x, self.config.input_norm).flatten(2).transpose(1, 2)
        h = F.conv1d(seq, self.expand_conv.weight, stride=self.config.filter_widths[0])
        h = self.drop(F.relu(self.expand_bn(h)))
        for block in self.blocks:
            h = block.forward_strided(h)
        return self._output(h, x.shape[0])

    def flops_per_frame(self) -> int:
        """Multiply-adds x2 per output frame in the full-sequence form (shared computation amortised)."""
        cfg, c = self.config, self.config.channels
        cin = cfg.input_channels
        macs = cin * c * cfg.filter_widths[0] + sum(c * c * w + c * c for w in cfg.filter_widths[1:])
        macs += c * cfg.num_joints_out * 3
        return 2 * macs
