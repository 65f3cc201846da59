"""Window sampling: the vectorised sampler against the per-window loop, edge padding, causal windows, flips."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.data.sequences import PoseSequence
from poselift.skeleton import H36M17, flip_poses
from poselift.training.windows import LoopWindowSampler, WindowSampler, action_balance_weights, padding


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


def _labelled(subject_action_frames) -> list[PoseSequence]:
    zeros = [np.zeros((n, 17, 2), np.float32) for _, _, n in subject_action_frames]
    return [
        PoseSequence(kp, np.zeros((kp.shape[0], 17, 3), np.float32) + [0, 0, 5], subject=s, action=a)
        for kp, (s, a, _) in zip(zeros, subject_action_frames, strict=True)
    ]


def test_action_balance_groups_clips_by_subject_and_content():
    seqs = _labelled([
        ("dataset-1", "dataset-1_bow_active_001", 10),
        ("dataset-1", "dataset-1_bow_happy_002", 30),  # the same content as the first: one group of 40 frames
        ("dataset-2", "dataset-2_bow_active_001", 5),  # another subject: its own group
        ("S1", "Walking 1", 20),  # not a motion capture file name: the action as it is
    ])
    full = action_balance_weights(seqs, 1.0)
    assert full.shape == (65,)
    np.testing.assert_allclose(full[:40], 1 / 40)
    np.testing.assert_allclose(full[40:45], 1 / 5)
    np.testing.assert_allclose(full[45:], 1 / 20)
    # Strength 1: every group carries the same total weight; 0: every frame the same.
    assert full[:40].sum() == pytest.approx(full[40:45].sum()) == pytest.approx(full[45:].sum())
    np.testing.assert_allclose(action_balance_weights(seqs, 0.0), 1.0)
    np.testing.assert_allclose(action_balance_weights(seqs, 0.5)[40], 5 ** -0.5)


def test_weighted_epochs_draw_rare_actions_as_often_as_common_ones():
    seqs = _labelled([("dataset-1", "dataset-1_walk_active_001", 900), ("dataset-1", "dataset-1_bow_active_001", 100)])
    sampler = WindowSampler(seqs, 9)
    weights = action_balance_weights(seqs, 1.0)
    idx = sampler.indices_for_epoch(0, seed=3, weights=weights)
    assert len(idx) == 1000  # as many as an unweighted epoch
    rare_share = np.mean(idx >= 900)
    assert 0.45 < rare_share < 0.55  # not 0.1 as without weights
    assert len(np.unique(idx[idx >= 900])) < 100 < np.sum(idx >= 900)  # drawn with replacement
    capped = sampler.indices_for_epoch(0, seed=3, max_windows=200, weights=weights)
    assert len(capped) == 200
    # The stride still picks the phase, ranks still split one draw.
    strided = sampler.indices_for_epoch(1, seed=3, stride=4, weights=weights)
    assert len(strided) == 250 and np.all(sampler.frame_in_sequence[strided] % 4 == 1)
    shards = [sampler.indices_for_epoch(0, 3, rank=r, world_size=2, weights=weights) for r in range(2)]
    np.testing.assert_array_equal(np.sort(np.concatenate(shards)), np.sort(idx))
    np.testing.assert_array_equal(idx, sampler.indices_for_epoch(0, seed=3, weights=weights))
