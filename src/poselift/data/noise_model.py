"""Parameters of the 2D detector-noise model, shared by the numpy synthesis (poselift.data.synthesis) and its
batched torch form (poselift.data.synthesis_torch)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poselift.skeleton import H36M17


@dataclass(frozen=True)
class NoiseLevel:
    """Parameters of the 2D detector noise; sizes are fractions of the person's size in the image
    (the larger side of the 2D box around the 17 joints, per frame)."""

    jitter: float = 0.0  # std of independent per-frame Gaussian jitter (per axis)
    drift: float = 0.0  # std of a slowly varying offset per joint (per axis)
    drift_seconds: float = 0.5  # time scale of the drift (Gaussian low-pass, seconds)
    drop_rate: float = 0.0  # fraction of joint-frames missing (confidence 0, filled in)
    drop_frames: float = 3.0  # mean length of a run of missing frames
    low_rate: float = 0.0  # fraction of joint-frames with low confidence and 3x the jitter
    low_frames: float = 3.0  # mean length of a low-confidence run
    swap_rate: float = 0.0  # fraction of frames with left and right swapped (legs, arms or both)
    swap_frames: float = 3.0  # mean length of a swap


NOISE_LEVELS: dict[str, NoiseLevel] = {
    "none": NoiseLevel(),
    "light": NoiseLevel(jitter=0.004, drift=0.003, low_rate=0.01),
    "detector": NoiseLevel(
        jitter=0.010, drift=0.008, drop_rate=0.01, low_rate=0.03, swap_rate=0.01, swap_frames=3.0
    ),
    "heavy": NoiseLevel(
        jitter=0.020, drift=0.015, drop_rate=0.04, drop_frames=5.0, low_rate=0.08, low_frames=4.0,
        swap_rate=0.03, swap_frames=4.0,
    ),
}
"""Named noise levels; docs/data.md has the table. "detector" is about a good 2D detector (HRNet/CPN-like)."""

JOINT_NOISE_SCALE = np.array(
    [1.0, 1.2, 1.0, 1.1, 1.2, 1.0, 1.1, 1.0, 0.9, 0.7, 1.2, 0.9, 1.1, 1.4, 0.9, 1.1, 1.4], dtype=np.float64
)
"""Per-joint multiplier of jitter and drift (H36M order): wrists and hips are the hardest to localise."""

_SWAP_GROUPS = ((1, 2, 3), (11, 12, 13), (1, 2, 3, 11, 12, 13))  # right-side joints of legs, arms, both


def _swap_permutations() -> np.ndarray:
    perms = np.tile(np.arange(H36M17.num_joints), (len(_SWAP_GROUPS) + 1, 1))
    flip = H36M17.flip_permutation()
    for g, right in enumerate(_SWAP_GROUPS, start=1):
        for j in right:
            perms[g, j], perms[g, flip[j]] = flip[j], j
    return perms


_SWAP_PERMUTATIONS = _swap_permutations()
