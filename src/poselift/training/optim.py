"""Optimisers (Ranger = RAdam + Lookahead, AdamW, Adam), learning-rate schedules and the BN momentum decay.

The schedules are pure functions of training progress (epochs done, fractional), so a resumed run needs no
scheduler state beyond its step counters and reproduces the uninterrupted run exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from poselift.training.config import OptimConfig


class Lookahead:
    """Lookahead (Zhang et al. 2019) around any optimiser: every k steps, slow += alpha * (fast - slow), fast = slow.

    The slow weights and the step counter are part of `state_dict()`, so resuming is exact.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, k: int = 6, alpha: float = 0.5):
        if k < 1 or not 0.0 < alpha <= 1.0:
            raise ValueError(f"Lookahead needs k >= 1 and 0 < alpha <= 1, got k={k}, alpha={alpha}")
        self.optimizer = optimizer
        self.k = int(k)
        self.alpha = float(alpha)
        self.counter = 0
        self.slow = [
            [p.detach().clone() for p in group["params"]] for group in optimizer.param_groups
        ]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The inner optimiser's parameter groups (set `lr` here)."""
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        """One inner step; every k-th step also pulls the slow weights towards the fast ones and resets them."""
        self.optimizer.step()
        self.counter += 1
        if self.counter % self.k:
            return
        for group, slow_group in zip(self.optimizer.param_groups, self.slow, strict=True):
            for p, slow in zip(group["params"], slow_group, strict=True):
                slow.add_(p.detach() - slow, alpha=self.alpha)
                p.copy_(slow)

    def state_dict(self) -> dict[str, Any]:
        """Inner optimiser state plus the slow weights, the counter, k and alpha."""
        return {
            "inner": self.optimizer.state_dict(),
            "slow": [[s.clone() for s in group] for group in self.slow],
            "counter": self.counter,
            "k": self.k,
            "alpha": self.alpha,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict()` returned (the parameters must have the same shapes and order)."""
        self.optimizer.load_state_dict(state["inner"])
        if [len(g) for g in state["slow"]] != [len(g) for g in self.slow]:
            raise ValueError("Lookahead state has a different number of parameters")
        for slow_group, saved_group in zip(self.slow, state["slow"], strict=True):
            for slow, saved in zip(slow_group, saved_group, strict=True):
                slow.copy_(saved)
        self.counter = int(state["counter"])
        self.k = int(state["k"])
        self.alpha = float(state["alpha"])


def build_optimizer(
    params: Iterable[torch.nn.Parameter], config: OptimConfig
) -> torch.optim.Optimizer | Lookahead:
    """The optimiser named by `config.name`: "ranger" (RAdam + Lookahead), "adamw" or "adam"."""
    params = list(params)
    if config.name == "ranger":
        inner = torch.optim.RAdam(
            params, lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay
        )
        return Lookahead(inner, k=config.lookahead_k, alpha=config.lookahead_alpha)
    if config.name == "adamw":
        return torch.optim.AdamW(
            params, lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay
        )
    if config.name == "adam":
        return torch.optim.Adam(
            params, lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay
        )
    raise ValueError(f"unknown optimiser {config.name!r}")


def learning_rate(config: OptimConfig, progress: float, epochs: int) -> float:
    """The learning rate after `progress` epochs (fractional) of `epochs`.

    cosine: lr_end + (lr - lr_end) * (1 + cos(pi * progress / epochs)) / 2, from lr down to lr_end;
    exponential: lr * (lr_end / lr) ** (progress / epochs); constant: lr. With `schedule_unit = "epoch"`
    the progress is floored to whole epochs.
    """
    if config.schedule_unit == "epoch":
        progress = math.floor(progress)
    t = min(max(progress / epochs, 0.0), 1.0)
    if config.schedule == "cosine":
        return config.lr_end + (config.lr - config.lr_end) * 0.5 * (1.0 + math.cos(math.pi * t))
    if config.schedule == "exponential":
        return config.lr * (config.lr_end / config.lr) ** t
    if config.schedule == "constant":
        return config.lr
    raise ValueError(f"unknown schedule {config.schedule!r}")


def set_learning_rate(optimizer: torch.optim.Optimizer | Lookahead, lr: float) -> None:
    """Set `lr` on every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def bn_momentum(config: OptimConfig, epoch: int, epochs: int) -> float:
    """Batch-norm momentum for `epoch`: start * exp(-epoch/epochs * ln(start/end)) (0.1 -> 0.001 by default)."""
    return config.bn_momentum_start * math.exp(
        -epoch / epochs * math.log(config.bn_momentum_start / config.bn_momentum_end)
    )


def set_bn_momentum(model: torch.nn.Module, momentum: float) -> None:
    """Set the momentum of every batch-norm layer of `model` (BatchNorm1d/2d/3d and SyncBatchNorm)."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = momentum
