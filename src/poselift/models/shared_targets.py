"""Training forms with several target frames per input: (B, rf + K - 1, J, 2) -> (B, K, J, 3).

Output k is what the model computes for the window x[:, k : k + rf], so a loss averaged over the K outputs
is the per-window loss over B*K windows, and the gradients are the same. `UnfoldedTargets` does it for any
model by cutting the K windows out (nothing shared; the reference). `SharedTargetsAttentionNet` computes the
attention network's stem and input branches once per frame triplet of the long input instead of once per
window (as the fused inference path does) and hands each window a view of them; batch norms there weight
each frame triplet by the number of windows that use it, so their statistics, running updates and
gradients are those of the B*K separate windows. Dropout masks are drawn per window, after the sharing,
so training sees the same distribution of masks as the per-window form.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from poselift.models.attention import AttentionTemporalNet, _offset
from poselift.models.fused import ChannelsLastAttentionNet, _mish_autograd
from poselift.models.input_norm import normalise_input


def unfold_windows(x: Tensor, receptive_field: int) -> Tensor:
    """(B, rf + K - 1, J, C) -> (B*K, rf, J, C): window k is x[:, k : k + rf]."""
    windows = x.unfold(1, receptive_field, 1)  # (B, K, J, C, rf)
    return windows.permute(0, 1, 4, 2, 3).reshape(-1, receptive_field, *x.shape[2:])


class UnfoldedTargets(nn.Module):
    """Any window model on (B, rf + K - 1, J, 2) inputs: the K windows cut out and run as one batch."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.receptive_field = int(model.receptive_field)
        self.causal = bool(model.causal)

    def forward(self, x: Tensor) -> Tensor:
        """(B, rf + K - 1, J, 2) -> (B, K, J_out, 3)."""
        count = _target_count(x, self.receptive_field)
        out = self.model(unfold_windows(x, self.receptive_field))  # (B*K, 1, J, 3)
        return out.view(x.shape[0], count, *out.shape[2:])


def _target_count(x: Tensor, receptive_field: int) -> int:
    count = x.shape[1] - receptive_field + 1
    if count < 1:
        raise ValueError(f"expected at least {receptive_field} frames, got {x.shape[1]}")
    return count


def weighted_batch_norm(x: Tensor, bn: nn.BatchNorm1d, weights: Tensor) -> Tensor:
    """BatchNorm1d over rows (B, U, C) where row u stands for weights[u] rows: the statistics and running
    updates of the batch with every row repeated that many times (training), or the running statistics."""
    if not (bn.training or not bn.track_running_stats):
        return F.batch_norm(x.reshape(-1, x.shape[-1]), bn.running_mean, bn.running_var, bn.weight, bn.bias,
                            False, 0.0, bn.eps).view(x.shape)
    xf = x.float()
    w = weights.to(xf.dtype)[:, None]
    count = w.sum() * x.shape[0]
    mean = (xf * w).sum((0, 1)) / count
    centred = xf - mean
    var = (centred.square() * w).sum((0, 1)) / count
    y = centred * torch.rsqrt(var + bn.eps)
    if bn.affine:
        y = y * bn.weight + bn.bias
    if bn.track_running_stats:
        bn.num_batches_tracked.add_(1)
        momentum = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
        with torch.no_grad():
            bn.running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
            unbiased = var.detach() * count / max(float(count) - 1, 1.0)
            bn.running_var.mul_(1 - momentum).add_(unbiased * momentum)
    return y


def _shared_plan(first: np.ndarray, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Triplet starts (K, P) -> (unique starts (U,), each entry's row among them (K*P,), uses per row (U,))."""
    unique, inverse, counts = np.unique(first.ravel(), return_inverse=True, return_counts=True)
    return (torch.as_tensor(unique, device=device), torch.as_tensor(inverse.ravel(), device=device),
            torch.as_tensor(counts, device=device))


class SharedTargetsAttentionNet(ChannelsLastAttentionNet):
    """The attention network on (B, rf + K - 1, J, 2) -> (B, K, J_out, 3), the work before the first temporal
    gate shared between the K windows; the same outputs, running statistics and gradients as UnfoldedTargets
    of the plain model (dropout aside: masks differ in draw order only)."""

    def __init__(self, model: AttentionTemporalNet):
        super().__init__(model)
        self._plans: dict[tuple[int, str], dict[str, tuple[Tensor, Tensor, Tensor, int]]] = {}

    def _plan(self, count: int, device: torch.device) -> dict[str, tuple[Tensor, Tensor, Tensor, int]]:
        """Per DWSep (stem, input branches): which frame triplets K windows use, and their spacing."""
        key = (count, str(device))
        if key not in self._plans:
            m, rf = self.model, self.receptive_field
            window = np.arange(count)[:, None]
            plans = {"stem": (*_shared_plan(window + 3 * np.arange(rf // 3)[None], device), 1)}
            for k in range(1, len(m.input_branches) + 1):
                step = 3**k
                first = window + _offset(step, m.causal) + 3 * step * np.arange(rf // (3 * step))[None]
                plans[f"branch{k}"] = (*_shared_plan(first, device), step)
            self._plans[key] = plans
        return self._plans[key]

    def _shared_dwsep(self, seq: Tensor, module, plan: tuple[Tensor, Tensor, Tensor, int], count: int) -> Tensor:
        """DWSep + Mish on the used triplets of seq (B, L, cin) once each -> per-window rows (B*K, P, cout)."""
        unique, inverse, uses, spacing = plan
        taps = module.depthwise.weight[:, 0, :].t()  # (3, cin)
        rows = seq[:, unique] * taps[0] + seq[:, unique + spacing] * taps[1] + seq[:, unique + 2 * spacing] * taps[2]
        rows = weighted_batch_norm(rows, module.depthwise_bn, uses)
        rows = weighted_batch_norm(F.linear(rows, module.pointwise.weight[:, :, 0]), module.pointwise_bn, uses)
        rows = _mish_autograd(rows)
        batch = seq.shape[0]
        return rows[:, inverse].view(batch * count, -1, rows.shape[-1])

    def forward(self, x: Tensor) -> Tensor:
        """(B, rf + K - 1, J, 2) -> (B, K, J_out, 3)."""
        m, cfg = self.model, self.model.config
        count = _target_count(x, self.receptive_field)
        batch, length = x.shape[:2]
        x = normalise_input(x, cfg.input_norm)  # per frame, so the same before or after cutting windows
        score = m.attention_scores(unfold_windows(x, self.receptive_field)) if m.gates else None
        seq = x.reshape(batch, length, -1)
        plans = self._plan(count, x.device)
        incoming: dict[int, list[Tensor]] = {}
        for k, branch in enumerate(m.input_branches, start=1):
            rows = self._shared_dwsep(seq, branch, plans[f"branch{k}"], count)
            incoming.setdefault(k, []).append(self._drop(rows))
        h = self._drop(self._shared_dwsep(seq, m.stem, plans["stem"], count))
        out = self._layers_and_head(h, incoming, score)  # (B*K, 1, J, 3)
        return out.view(batch, count, *out.shape[2:])


def shared_targets_form(model: nn.Module, fast: bool = True) -> nn.Module:
    """The several-targets form of `model`: SharedTargetsAttentionNet for the attention network when `fast`,
    else UnfoldedTargets (any model)."""
    if fast and isinstance(model, AttentionTemporalNet):
        return SharedTargetsAttentionNet(model)
    return UnfoldedTargets(model)
