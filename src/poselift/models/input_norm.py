"""How a model normalises its 2D input before the first layer; part of the architecture, stored in its config.

"screen": the input is used as given: normalised screen coordinates (VideoPose3D's and the authors'
checkpoints). "frame": each frame is centred on its joints' mean and divided by their RMS distance from it,
so the network sees the body's shape whatever its size and place in the image (where the person stands and
how far the camera is say nothing about a root-relative pose). "frame_place": the same shape rows plus two
rows that say where the body is and how large it looks, (centre x, centre y) and (0, log RMS size), so the
network can still read how the body moves across the image and towards the camera (which tells the
camera's height and tilt) without having to undo them from every joint. All act on each frame alone, so
whole-sequence and streaming inference, which share frames between windows, compute the same as window by
window, and all commute with mirroring (x -> -x with left and right swapped) applied before them.
"""

from __future__ import annotations

import torch

INPUT_NORMS = ("screen", "frame", "frame_place")


def check_input_norm(mode: str) -> None:
    """Raise ValueError for an unknown mode."""
    if mode not in INPUT_NORMS:
        raise ValueError(f"input_norm must be one of {INPUT_NORMS}, got {mode!r}")


def input_channels(mode: str, num_joints: int, in_features: int) -> int:
    """Channels per frame a model's first layer takes after `normalise_input`: the joints, plus the two
    placement rows of "frame_place", times the features per row."""
    check_input_norm(mode)
    return (num_joints + (2 if mode == "frame_place" else 0)) * in_features


def normalise_input(x: torch.Tensor, mode: str) -> torch.Tensor:
    """(..., J, 2) keypoints -> (..., J [+ 2 placement rows], 2), normalised per frame as `mode` says."""
    if mode == "screen":
        return x
    check_input_norm(mode)
    centre = x.mean(dim=-2, keepdim=True)
    centred = x - centre
    spread = (centred.square().sum(dim=-1, keepdim=True).mean(dim=-2, keepdim=True) + 1e-12).sqrt()
    shape = centred / spread
    if mode == "frame":
        return shape
    size = torch.cat([torch.zeros_like(spread), spread.log()], dim=-1)
    return torch.cat([shape, centre, size], dim=-2)


def root_centred_pose(x: torch.Tensor, num_joints: int) -> torch.Tensor:
    """(..., T, J + extra, 2) normalised input -> (..., T, 2J): the joint rows minus the root's, flattened
    (what the temporal attention compares between frames; the placement rows take no part)."""
    joints = x[..., :num_joints, :]
    return (joints - joints[..., :1, :]).flatten(-2)
