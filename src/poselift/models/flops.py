"""Counting parameters and floating-point operations per output frame."""

from __future__ import annotations

import torch
from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (batch-norm running statistics excluded)."""
    return sum(p.numel() for p in model.parameters())


def flops_per_frame(model: nn.Module) -> int:
    """2 x multiply-adds of convolutions and linear layers to produce one output frame.

    Models that share computation across frames (VideoPose3D's full-sequence form) report their own
    amortised figure through `flops_per_frame()`; others are measured on one window with hooks.
    """
    if hasattr(model, "flops_per_frame"):
        return int(model.flops_per_frame())
    total = 0

    def hook(module: nn.Module, inputs, output) -> None:
        nonlocal total
        if isinstance(module, nn.Conv1d):
            total += output.numel() * (module.in_channels // module.groups) * module.kernel_size[0]
        elif isinstance(module, nn.Linear):
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv1d | nn.Linear)]
    try:
        cfg = model.config
        window = torch.zeros(1, model.receptive_field, cfg.num_joints_in, cfg.in_features)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(window)
        model.train(was_training)
    finally:
        for handle in handles:
            handle.remove()
    return 2 * total
