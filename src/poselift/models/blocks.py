"""Building blocks of the attention network: depthwise-separable temporal convolution and kernel attention."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class DepthwiseSeparable(nn.Module):
    """Depthwise Conv1d (kernel 3, stride 3) -> BN -> pointwise Conv1d -> BN; shortens time by 3.

    No activation inside, as in the authors' release. Input (B, cin, T), output (B, cout, T // 3).
    """

    def __init__(self, cin: int, cout: int, bn_momentum: float = 0.1):
        super().__init__()
        self.depthwise = nn.Conv1d(cin, cin, kernel_size=3, stride=3, groups=cin, bias=False)
        self.depthwise_bn = nn.BatchNorm1d(cin, momentum=bn_momentum)
        self.pointwise = nn.Conv1d(cin, cout, kernel_size=1, bias=False)
        self.pointwise_bn = nn.BatchNorm1d(cout, momentum=bn_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_bn(self.pointwise(self.depthwise_bn(self.depthwise(x))))


class KernelAttentionBranch(nn.Module):
    """One branch of kernel attention: edge padding, dilated depthwise conv (stride 3), BN, grouped 1x1, BN, Mish."""

    def __init__(self, channels: int, dilation: int, groups: int, causal: bool, bn_momentum: float = 0.1):
        super().__init__()
        # A kernel-3 conv with dilation d covers 2d+1 frames; the triplet it summarises spans 3 frames,
        # so d-1 extra frames are needed on each side (symmetric) or 2(d-1) on the left (causal).
        extra = dilation - 1
        self.pad = (2 * extra, 0) if causal else (extra, extra)
        self.depthwise = nn.Conv1d(
            channels, channels, kernel_size=3, stride=3, dilation=dilation, groups=channels, bias=False
        )
        self.depthwise_bn = nn.BatchNorm1d(channels, momentum=bn_momentum)
        self.grouped = nn.Conv1d(channels, channels, kernel_size=1, groups=groups, bias=False)
        self.grouped_bn = nn.BatchNorm1d(channels, momentum=bn_momentum)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad != (0, 0):
            x = F.pad(x, self.pad, mode="replicate")
        return F.mish(self.grouped_bn(self.grouped(self.depthwise_bn(self.depthwise(x)))))


class KernelAttention(nn.Module):
    """Selective-kernel fusion of M dilated branches by a per-channel softmax over branches.

    Input (B, C, T), output (B, C, T // 3). Branch m uses dilation m + 1.
    """

    def __init__(
        self,
        channels: int,
        branches: int = 3,
        groups: int = 8,
        reduction: int = 128,
        causal: bool = False,
        bn_momentum: float = 0.1,
    ):
        super().__init__()
        self.branches = nn.ModuleList(
            KernelAttentionBranch(channels, m + 1, groups, causal, bn_momentum) for m in range(branches)
        )
        if branches > 1:
            self.squeeze = nn.Linear(channels, reduction)
            self.excite = nn.ModuleList(nn.Linear(reduction, channels) for _ in range(branches))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = torch.stack([branch(x) for branch in self.branches], dim=1)  # (B, M, C, T')
        if len(self.branches) == 1:
            return outputs[:, 0]
        z = self.squeeze(outputs.sum(dim=1).mean(dim=-1))  # (B, r)
        logits = torch.stack([fc(z) for fc in self.excite], dim=1)  # (B, M, C)
        weights = torch.softmax(logits, dim=1).unsqueeze(-1)
        return (weights * outputs).sum(dim=1)
