"""Training losses on (B, T, J, 3) poses in metres: MPJPE, velocity, bone-length consistency, trajectory."""

from __future__ import annotations

import torch

from poselift.skeleton import H36M17, Skeleton


def mpjpe(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error: mean Euclidean distance over every joint and frame, metres. (..., J, 3)."""
    return torch.linalg.vector_norm(predicted - target, dim=-1).mean()


def velocity_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """Mean error of the frame-to-frame velocity over consecutive predictions (B, T, J, 3), T >= 2.

    Returns None when there is only one frame per window (the usual single-target training), so the caller
    skips the term.
    """
    if predicted.shape[1] < 2:
        return None
    return torch.linalg.vector_norm(
        torch.diff(predicted, dim=1) - torch.diff(target, dim=1), dim=-1
    ).mean()


def bone_lengths(poses: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """The length of every bone (parent, child) of `skeleton`: (..., J, 3) -> (..., J-1), metres."""
    parents = [p for p, _ in skeleton.bones()]
    children = [c for _, c in skeleton.bones()]
    return torch.linalg.vector_norm(poses[..., children, :] - poses[..., parents, :], dim=-1)


def bone_length_loss(predicted: torch.Tensor, target: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Mean absolute difference between predicted and target bone lengths, metres."""
    return (bone_lengths(predicted, skeleton) - bone_lengths(target, skeleton)).abs().mean()


def trajectory_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """VideoPose3D's weighted root-position error: mean of |pred - target| / z, z the true root depth (metres).

    predicted, target: (B, T, 1, 3) camera-frame root positions. Far subjects are down-weighted because
    their depth is inherently less certain from 2D.
    """
    weight = 1.0 / target[..., 2].clamp_min(1e-3)
    return (weight * torch.linalg.vector_norm(predicted - target, dim=-1)).mean()
