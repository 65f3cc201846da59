"""Window sampling: the vectorised sampler against the per-window loop, edge padding, causal windows, flips."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.data.sequences import PoseSequence
from poselift.skeleton import H36M17, flip_poses
from poselift.training.windows import LoopWindowSampler, WindowSampler, padding


def _sequences(rng: np.random.Generator, lengths=(12, 3, 30)) -> list[PoseSequence]:
    out = []
    for i, n in enumerate(lengths):
        # Frame t of sequence i carries recognisable values: x = 1000 i + t in every joint's first coordinate.
        kp = rng.normal(size=(n, 17, 2)).astype(np.float32)
        kp[:, :, 0] = 1000 * i + np.arange(n)[:, None]
        poses = rng.normal(size=(n, 17, 3)).astype(np.float32) + np.array([0, 0, 5], np.float32)
        out.append(PoseSequence(kp, poses, fps=30.0, action=f"a{i}"))
    return out


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("rf", [1, 9, 27])
def test_vectorised_sampler_equals_loop_sampler(rng, rf, causal):
    seqs = _sequences(rng)
    fast = WindowSampler(seqs, rf, causal)
    slow = LoopWindowSampler(seqs, rf, causal)
    assert fast.num_windows == slow.num_windows == sum(s.num_frames for s in seqs)
    indices = rng.integers(0, fast.num_windows, size=64)
    flips = rng.random(64) < 0.5
    a, b = fast.gather(indices, flips), slow.gather(indices, flips)
    assert a.windows.shape == (64, rf, 17, 2) and a.targets.shape == (64, 1, 17, 3) and a.root.shape == (64, 1, 1, 3)
    np.testing.assert_array_equal(a.windows, b.windows)
    np.testing.assert_array_equal(a.targets, b.targets)
    np.testing.assert_array_equal(a.root, b.root)


def test_symmetric_padding_repeats_the_edge_frames(rng):
    seqs = _sequences(rng, lengths=(5,))
    sampler = WindowSampler(seqs, 9, causal=False)
    assert padding(9, False) == (4, 4)
    first = sampler.gather(np.array([0])).windows[0]
    # Frame 0 is the centre; the 4 frames before it repeat frame 0, then frames 1..4 follow.
    np.testing.assert_array_equal(first[:5], np.repeat(seqs[0].keypoints_2d[:1], 5, axis=0))
    np.testing.assert_array_equal(first[5:], seqs[0].keypoints_2d[1:5])
    last = sampler.gather(np.array([4])).windows[0]
    np.testing.assert_array_equal(last[4:], np.repeat(seqs[0].keypoints_2d[4:5], 5, axis=0))
    np.testing.assert_array_equal(last[:4], seqs[0].keypoints_2d[:4])


def test_windows_never_mix_sequences(rng):
    seqs = _sequences(rng, lengths=(4, 4))
    sampler = WindowSampler(seqs, 27)
    batch = sampler.gather(np.arange(sampler.num_windows))
    x = batch.windows[:, :, 0, 0]  # 1000 * sequence + frame
    assert (x[:4] < 1000).all() and (x[4:] >= 1000).all()


def test_causal_windows_end_at_the_target(rng):
    seqs = _sequences(rng, lengths=(20,))
    sampler = WindowSampler(seqs, 9, causal=True)
    assert padding(9, True) == (8, 0)
    batch = sampler.gather(np.arange(20))
    frames = batch.windows[:, :, 0, 0]  # the frame number of every window position
    np.testing.assert_array_equal(frames[:, -1], np.arange(20))
    np.testing.assert_array_equal(frames[10], np.arange(2, 11))
    np.testing.assert_array_equal(frames[3], [0, 0, 0, 0, 0, 0, 1, 2, 3])
    np.testing.assert_array_equal(batch.targets[:, 0], seqs[0].poses_3d - seqs[0].poses_3d[:, :1])


def test_targets_are_root_relative_and_root_is_returned(rng):
    seqs = _sequences(rng)
    sampler = WindowSampler(seqs, 3)
    batch = sampler.gather(np.arange(sampler.num_windows))
    assert np.all(batch.targets[:, 0, 0] == 0)
    all_poses = np.concatenate([s.poses_3d for s in seqs])
    np.testing.assert_allclose(batch.targets[:, 0] + batch.root[:, 0], all_poses, atol=1e-6)


def test_flip_augmentation_mirrors_2d_and_3d_consistently(rng):
    seqs = _sequences(rng)
    sampler = WindowSampler(seqs, 9)
    idx = np.arange(sampler.num_windows)
    plain = sampler.gather(idx)
    flipped = sampler.gather(idx, np.ones(len(idx), dtype=bool))
    assert flipped.flipped.all() and not plain.flipped.any()
    np.testing.assert_array_equal(flipped.windows, flip_poses(plain.windows, H36M17))
    np.testing.assert_array_equal(flipped.targets, flip_poses(plain.targets, H36M17))
    np.testing.assert_array_equal(flipped.root[..., 0], -plain.root[..., 0])
    np.testing.assert_array_equal(flipped.root[..., 1:], plain.root[..., 1:])
    # Mirroring twice is the identity; a left wrist becomes a right wrist.
    np.testing.assert_array_equal(flip_poses(flipped.windows, H36M17), plain.windows)
    lw, rw = H36M17.index("left_wrist"), H36M17.index("right_wrist")
    np.testing.assert_array_equal(flipped.targets[:, 0, rw, 0], -plain.targets[:, 0, lw, 0])


def test_a_partial_flip_mask_flips_only_the_chosen_windows(rng):
    seqs = _sequences(rng)
    sampler = WindowSampler(seqs, 3)
    idx = np.arange(10)
    mask = np.zeros(10, dtype=bool)
    mask[[1, 7]] = True
    plain, mixed = sampler.gather(idx), sampler.gather(idx, mask)
    np.testing.assert_array_equal(mixed.windows[~mask], plain.windows[~mask])
    assert not np.array_equal(mixed.windows[mask], plain.windows[mask])


def test_epoch_indices_stride_phase_and_shards(rng):
    seqs = _sequences(rng)
    sampler = WindowSampler(seqs, 3)
    frames = sampler.frame_in_sequence
    seen = []
    for epoch in range(3):
        idx = sampler.indices_for_epoch(epoch, seed=1, stride=3)
        assert np.all(frames[idx] % 3 == epoch % 3)
        seen.append(idx)
    # Over `stride` epochs every window is visited exactly once.
    assert sorted(np.concatenate(seen).tolist()) == list(range(sampler.num_windows))
    # Same (seed, epoch) -> same order; another epoch -> another order.
    np.testing.assert_array_equal(sampler.indices_for_epoch(5, 1), sampler.indices_for_epoch(5, 1))
    assert not np.array_equal(sampler.indices_for_epoch(5, 1), sampler.indices_for_epoch(6, 1))
    # Rank shards are disjoint, equally long, and together cover the epoch (less the trimmed remainder).
    full = sampler.indices_for_epoch(2, 1)
    shards = [sampler.indices_for_epoch(2, 1, rank=r, world_size=2) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == len(full) // 2
    assert not set(shards[0]) & set(shards[1])
    assert set(shards[0]) | set(shards[1]) <= set(full)
    assert len(sampler.indices_for_epoch(0, 1, max_windows=7)) == 7
    mask = sampler.flip_mask(3, 1, 1000)
    np.testing.assert_array_equal(mask, sampler.flip_mask(3, 1, 1000))
    assert 400 < mask.sum() < 600 and not np.array_equal(mask, sampler.flip_mask(3, 1, 1000, rank=1))
