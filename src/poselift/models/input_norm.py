"""How a model normalises its 2D input before the first layer; part of the architecture, stored in its config.

"screen": the input is used as given: normalised screen coordinates (VideoPose3D's and the authors'
checkpoints). "frame": each frame is centred on its joints' mean and divided by their RMS distance from it,
so the network sees the body's shape whatever its size and place in the image (where the person stands and
how far the camera is say nothing about a root-relative pose). Both act on each frame alone, so whole-sequence
and streaming inference, which share frames between windows, compute the same as window by window.
"""

from __future__ import annotations

import torch

INPUT_NORMS = ("screen", "frame")


def check_input_norm(mode: str) -> None:
    """Raise ValueError for an unknown mode."""
    if mode not in INPUT_NORMS:
        raise ValueError(f"input_norm must be one of {INPUT_NORMS}, got {mode!r}")


def normalise_input(x: torch.Tensor, mode: str) -> torch.Tensor:
    """(..., J, 2) keypoints -> the same shape, normalised per frame as `mode` says (see the module doc)."""
    if mode == "screen":
        return x
    if mode == "frame":
        centred = x - x.mean(dim=-2, keepdim=True)
        spread = centred.square().sum(dim=-1, keepdim=True).mean(dim=-2, keepdim=True)
        return centred / (spread + 1e-12).sqrt()
    check_input_norm(mode)
    raise AssertionError("unreachable")
