"""Training windows: 2D keypoint windows around (or ending at) a target frame, with their 3D targets.

`WindowSampler` concatenates every sequence's edge-padded 2D keypoints into one array once and gathers a
whole batch with one fancy-indexing operation (`starts[:, None] + arange(receptive_field)`).
`LoopWindowSampler` builds the same batches one window at a time in Python; it is the baseline that
benchmarks/speed.py compares against, and the reference the tests check the fast sampler with.

Padding repeats the edge frame: receptive_field // 2 frames on both sides for symmetric models (the target
is the window's centre), receptive_field - 1 on the left for causal models (the target is the last frame).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from poselift.data.sequences import PoseSequence
from poselift.skeleton import H36M17, Skeleton

if TYPE_CHECKING:
    import torch


@dataclass
class WindowBatch:
    """One batch of training windows.

    windows: (B, receptive_field + K - 1, J, 2) normalised screen coordinates, float32 (K = 1 usually).
    targets: (B, K, J, 3) root-relative camera-frame metres (root joint zeroed), float32.
    root: (B, K, 1, 3) the root joint's camera-frame position, metres (the trajectory model's target).
    flipped: (B,) bool, which windows were mirrored.
    """

    windows: np.ndarray
    targets: np.ndarray
    root: np.ndarray
    flipped: np.ndarray


def padding(receptive_field: int, causal: bool) -> tuple[int, int]:
    """Frames of edge padding (left, right) so that every frame of a sequence can be a target."""
    if causal:
        return receptive_field - 1, 0
    return receptive_field // 2, receptive_field // 2


def action_balance_weights(sequences: Sequence[PoseSequence], strength: float) -> np.ndarray:
    """(total frames,) sampling weight of every target frame: n ** -strength for an action with n frames in all.

    An action is a (subject, content) pair: a motion capture clip's content comes from its file name
    (`dataset-1_bow_...` is dataset-1's bow), any other sequence's action is taken as it is. Strength 0 weighs
    every frame the same; 1 gives every action the same share, so short, rare actions are seen as often as
    the long ones that dominate a dataset.
    """
    from poselift.data.mocap import clip_content

    groups = [(seq.subject, clip_content(seq.action)) for seq in sequences]
    lengths = [seq.num_frames for seq in sequences]
    frames: dict[tuple[str, str], int] = {}
    for group, length in zip(groups, lengths, strict=True):
        frames[group] = frames.get(group, 0) + length
    per_sequence = np.array([frames[group] for group in groups], dtype=np.float64) ** -strength
    return np.repeat(per_sequence, lengths)


class WindowSampler:
    """Vectorised window gathering over a list of sequences; the index covers every frame of every sequence.

    `num_windows` is the number of target frames (= total frames). `indices_for_epoch` picks the targets of
    one epoch (stride with a rotating phase, optional cap, shuffled, sharded per rank), `gather` builds a batch.
    """

    def __init__(
        self,
        sequences: Sequence[PoseSequence],
        receptive_field: int,
        causal: bool = False,
        skeleton: Skeleton = H36M17,
        root_joint: int = 0,
    ):
        if not sequences:
            raise ValueError("no sequences to sample windows from")
        self.receptive_field = int(receptive_field)
        self.causal = bool(causal)
        self.skeleton = skeleton
        self.root_joint = root_joint
        self.pad_left, self.pad_right = padding(self.receptive_field, self.causal)
        padded, poses, starts, frames, seq_ids, lengths = [], [], [], [], [], []
        padded_offset = 0
        pose_offset = 0
        for i, seq in enumerate(sequences):
            kp = np.asarray(seq.keypoints_2d, dtype=np.float32)
            n = kp.shape[0]
            padded.append(np.concatenate([
                np.repeat(kp[:1], self.pad_left, axis=0), kp, np.repeat(kp[-1:], self.pad_right, axis=0)
            ]))
            poses.append(np.asarray(seq.poses_3d, dtype=np.float32))
            # Target frame t of this sequence sits at padded index pad_left + t; its window starts at t.
            starts.append(padded_offset + np.arange(n, dtype=np.int64))
            frames.append(np.arange(n, dtype=np.int64))
            seq_ids.append(np.full(n, i, dtype=np.int64))
            lengths.append(np.full(n, n, dtype=np.int64))
            padded_offset += n + self.pad_left + self.pad_right
            pose_offset += n
        self.keypoints_2d = np.concatenate(padded)
        """(sum of padded lengths, J, 2) all sequences' padded 2D keypoints, back to back."""
        self.poses_3d = np.concatenate(poses)
        """(total frames, J, 3) all sequences' 3D poses, camera-frame metres."""
        self.starts = np.concatenate(starts)
        """(W,) index into keypoints_2d of each window's first frame."""
        self.frame_in_sequence = np.concatenate(frames)
        """(W,) each target's frame number within its sequence (used for the stride)."""
        self.sequence_index = np.concatenate(seq_ids)
        """(W,) each target's sequence."""
        self.sequence_length = np.concatenate(lengths)
        """(W,) the length (frames) of each target's sequence."""
        self.flip_permutation = skeleton.flip_permutation()
        self._offsets = np.arange(self.receptive_field, dtype=np.int64)

    @property
    def num_windows(self) -> int:
        """The number of target frames in the index (every frame of every sequence)."""
        return int(self.starts.shape[0])

    def indices_for_epoch(
        self,
        epoch: int,
        seed: int,
        stride: int = 1,
        max_windows: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        weights: np.ndarray | None = None,
        run_length: int = 1,
    ) -> np.ndarray:
        """The target indices (into the index, not frames) one rank visits in `epoch`, in order.

        Targets are frames with frame % stride == epoch % stride (neighbouring windows at 30-50 fps are nearly
        identical, so a stride loses little and each epoch sees a different phase). The epoch's order comes from
        a generator seeded by (seed, epoch), the same on every rank; rank r takes every world_size-th window,
        trimmed so every rank has the same count (DistributedSampler's `drop_last`). With `weights` (one per
        window, e.g. action_balance_weights), the epoch draws as many targets as it would have, with
        replacement, each in proportion to its weight. run_length K > 1: the first targets of runs of K
        (`gather(..., count=K)`): every stride*K-th frame, in sequences of at least K frames only.
        """
        stride *= run_length
        phase = epoch % stride
        chosen = np.flatnonzero((self.frame_in_sequence % stride == phase) & (self.sequence_length >= run_length))
        rng = np.random.default_rng([seed, epoch])
        if weights is not None:
            count = min(chosen.shape[0], max_windows) if max_windows else chosen.shape[0]
            share = np.asarray(weights, dtype=np.float64)[chosen]
            chosen = rng.choice(chosen, size=count, replace=True, p=share / share.sum())
        elif shuffle:
            chosen = rng.permutation(chosen)
        if max_windows and chosen.shape[0] > max_windows:
            chosen = chosen[:max_windows] if shuffle else chosen[:: -(-chosen.shape[0] // max_windows)]
        per_rank = chosen.shape[0] // world_size if world_size > 1 else chosen.shape[0]
        return chosen[rank::world_size][:per_rank]

    def flip_mask(self, epoch: int, seed: int, count: int, rank: int = 0) -> np.ndarray:
        """(count,) bool: which of a rank's windows to mirror in `epoch` (about half), seeded by (seed, epoch, rank)."""
        return np.random.default_rng([seed, epoch, 1, rank]).random(count) < 0.5

    def run_starts(self, indices: np.ndarray, count: int) -> np.ndarray:
        """The first target of a run of `count` that starts at each index, moved back where the run would pass
        its sequence's end (the sequence must hold `count` frames)."""
        indices = np.asarray(indices, dtype=np.int64)
        overshoot = self.frame_in_sequence[indices] - (self.sequence_length[indices] - count)
        return indices - np.maximum(overshoot, 0)

    def gather(self, indices: np.ndarray, flip: np.ndarray | None = None, count: int = 1) -> WindowBatch:
        """Build the windows and targets for `indices` (B,) with one fancy-indexing op; mirror where `flip`.

        count K > 1: each index starts a run of K targets (moved back to fit, `run_starts`) and its window is
        the rf + K - 1 frames that cover them; targets and root then hold K frames.
        """
        indices = np.asarray(indices, dtype=np.int64)
        if count > 1:
            indices = self.run_starts(indices, count)
        offsets = self._offsets if count == 1 else np.arange(self.receptive_field + count - 1, dtype=np.int64)
        windows = self.keypoints_2d[self.starts[indices, None] + offsets]  # (B, rf + K - 1, J, 2)
        # The index has one entry per frame, sequence after sequence, exactly like poses_3d's rows.
        poses = self.poses_3d[indices[:, None] + np.arange(count)]  # (B, K, J, 3)
        root = poses[:, :, self.root_joint : self.root_joint + 1].copy()  # (B, K, 1, 3)
        targets = poses - root
        flipped = np.zeros(indices.shape[0], dtype=bool) if flip is None else np.asarray(flip, dtype=bool)
        if flipped.any():
            perm = self.flip_permutation
            windows[flipped] = windows[flipped][:, :, perm] * np.array([-1.0, 1.0], dtype=np.float32)
            targets[flipped] = targets[flipped][:, :, perm] * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
            root[flipped] = root[flipped] * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
        return WindowBatch(windows=windows, targets=targets, root=root, flipped=flipped)


class DeviceWindowSampler:
    """A WindowSampler's arrays on a torch device, so batches are cut where the model runs: no per-step host
    work or copies. `gather` gives the same values as WindowSampler.gather (indexing and sign changes only)."""

    def __init__(self, sampler: WindowSampler, device: torch.device | str):
        import torch

        self.receptive_field = sampler.receptive_field
        self.root_joint = sampler.root_joint
        self.device = torch.device(device)
        self.keypoints_2d = torch.from_numpy(sampler.keypoints_2d).to(self.device)
        self.poses_3d = torch.from_numpy(sampler.poses_3d).to(self.device)
        self.starts = torch.from_numpy(sampler.starts).to(self.device)
        self.frame_in_sequence = torch.from_numpy(sampler.frame_in_sequence).to(self.device)
        self.sequence_length = torch.from_numpy(sampler.sequence_length).to(self.device)
        self.flip_permutation = torch.as_tensor(sampler.flip_permutation, device=self.device)
        self._sign_2d = torch.tensor([-1.0, 1.0], device=self.device)
        self._sign_3d = torch.tensor([-1.0, 1.0, 1.0], device=self.device)

    def gather(
        self, indices: torch.Tensor, flip: torch.Tensor | None = None, count: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """indices (B,) int64 and flip (B,) bool tensors on the device -> (windows (B, rf + K - 1, J, 2),
        targets (B, K, J, 3), root (B, K, 1, 3)) tensors there; see WindowSampler.gather."""
        import torch

        if count > 1:
            overshoot = self.frame_in_sequence[indices] - (self.sequence_length[indices] - count)
            indices = indices - overshoot.clamp_min(0)
        span = torch.arange(self.receptive_field + count - 1, device=self.device)
        windows = self.keypoints_2d[self.starts[indices, None] + span]
        poses = self.poses_3d[indices[:, None] + torch.arange(count, device=self.device)]
        root = poses[:, :, self.root_joint : self.root_joint + 1]
        targets = poses - root
        if flip is not None:
            perm = self.flip_permutation
            windows = torch.where(flip[:, None, None, None], windows[:, :, perm] * self._sign_2d, windows)
            targets = torch.where(flip[:, None, None, None], targets[:, :, perm] * self._sign_3d, targets)
            root = torch.where(flip[:, None, None, None], root * self._sign_3d, root)
        return windows, targets, root


class LoopWindowSampler:
    """The per-window Python-loop baseline: clamps frame indices at the sequence ends for every window.

    Same index layout and `gather` signature as WindowSampler; kept for benchmarks/speed.py and as the
    tests' reference. Do not train with it: it is one to two orders of magnitude slower.
    """

    def __init__(
        self,
        sequences: Sequence[PoseSequence],
        receptive_field: int,
        causal: bool = False,
        skeleton: Skeleton = H36M17,
        root_joint: int = 0,
    ):
        self.sequences = list(sequences)
        self.receptive_field = int(receptive_field)
        self.causal = bool(causal)
        self.skeleton = skeleton
        self.root_joint = root_joint
        self.pad_left, _ = padding(self.receptive_field, self.causal)
        self._locate = []
        for i, seq in enumerate(self.sequences):
            self._locate.extend((i, t) for t in range(seq.num_frames))

    @property
    def num_windows(self) -> int:
        """The number of target frames."""
        return len(self._locate)

    def window(self, index: int, flip: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One window (rf, J, 2), its root-relative target (J, 3) and root position (1, 3)."""
        from poselift.skeleton import flip_poses

        seq_id, t = self._locate[index]
        seq = self.sequences[seq_id]
        n = seq.num_frames
        frames = [min(max(t - self.pad_left + k, 0), n - 1) for k in range(self.receptive_field)]
        window = np.stack([np.asarray(seq.keypoints_2d[f], dtype=np.float32) for f in frames])
        pose = np.asarray(seq.poses_3d[t], dtype=np.float32)
        root = pose[self.root_joint : self.root_joint + 1].copy()
        target = pose - root
        if flip:
            window = flip_poses(window, self.skeleton)
            target = flip_poses(target, self.skeleton)
            root = root * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
        return window, target, root

    def gather(self, indices: np.ndarray, flip: np.ndarray | None = None) -> WindowBatch:
        """Build a batch window by window."""
        flips = np.zeros(len(indices), dtype=bool) if flip is None else np.asarray(flip, dtype=bool)
        parts = [self.window(int(i), bool(f)) for i, f in zip(indices, flips, strict=True)]
        return WindowBatch(
            windows=np.stack([p[0] for p in parts]),
            targets=np.stack([p[1] for p in parts])[:, None],
            root=np.stack([p[2] for p in parts])[:, None],
            flipped=flips,
        )
