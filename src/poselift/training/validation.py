"""Validation during training: lift every (strided) validation frame in eval mode and score it.

MPJPE (Protocol 1) always; P-MPJPE (Protocol 2) and N-MPJPE from poselift.metrics when it is importable.
Errors are reported in millimetres on root-relative poses.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from poselift.skeleton import flip_average, mirror_poses
from poselift.training.windows import WindowSampler


def _metrics_module():
    try:
        from poselift import metrics
    except ImportError:  # the metrics module is optional for training
        return None
    return metrics


@torch.no_grad()
def predict_windows(
    model: nn.Module,
    sampler: WindowSampler,
    indices: np.ndarray,
    batch_size: int = 1024,
    flip: bool = False,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Root-relative predictions (N, J, 3) metres for the windows `indices`, with optional flip averaging."""
    was_training = model.training
    model.eval()
    perm = torch.as_tensor(sampler.flip_permutation)
    out = []
    try:
        for begin in range(0, len(indices), batch_size):
            batch = sampler.gather(indices[begin : begin + batch_size])
            windows = torch.from_numpy(batch.windows).to(device)
            pred = model(windows)[:, 0].float().cpu()  # (B, J, 3)
            if flip:
                pred_m = model(mirror_poses(windows, perm.to(windows.device)))[:, 0].float().cpu()
                pred = flip_average(pred, pred_m, perm)
            out.append(pred.numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, sampler.poses_3d.shape[1], 3), np.float32)


def evaluate(
    model: nn.Module,
    sampler: WindowSampler,
    stride: int = 1,
    max_windows: int = 0,
    batch_size: int = 1024,
    flip: bool = False,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Validation errors in mm: {"val_mpjpe_mm", "val_p_mpjpe_mm", "val_n_mpjpe_mm" (when available), "val_windows"}."""
    indices = sampler.indices_for_epoch(0, 0, stride=stride, max_windows=max_windows, shuffle=False)
    if len(indices) == 0:
        return {}
    predicted = predict_windows(model, sampler, indices, batch_size, flip, device)
    target = sampler.gather(indices).targets[:, 0]
    metrics = _metrics_module()
    result: dict[str, float] = {"val_windows": float(len(indices))}
    if metrics is None:
        result["val_mpjpe_mm"] = float(np.linalg.norm(predicted - target, axis=-1).mean() * 1000)
        return result
    result["val_mpjpe_mm"] = float(metrics.mpjpe(predicted, target) * 1000)
    if hasattr(metrics, "p_mpjpe"):
        result["val_p_mpjpe_mm"] = float(metrics.p_mpjpe(predicted, target) * 1000)
    if hasattr(metrics, "n_mpjpe"):
        result["val_n_mpjpe_mm"] = float(metrics.n_mpjpe(predicted, target) * 1000)
    return result
