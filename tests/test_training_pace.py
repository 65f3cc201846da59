"""The GPU-pace paths, checked on the CPU: several targets per window (same outputs, running statistics and
gradients as the per-window form), batches cut on the device (the host's batches exactly), bf16 autocast
training, Lifter precisions, the one-pass flip of accelerators and the static (CUDA-graph) stream."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from poselift.data.sequences import PoseSequence
from poselift.inference import Lifter, LiftStream
from poselift.models.fused import ChannelsLastAttentionNet
from poselift.models.registry import create_model
from poselift.models.shared_targets import SharedTargetsAttentionNet, UnfoldedTargets
from poselift.training.checkpoint import load_checkpoint
from poselift.training.config import load_config
from poselift.training.data import save_sequences_npz
from poselift.training.trainer import TrainingModule, compute_loss, train
from poselift.training.windows import DeviceWindowSampler, WindowSampler


def _randomise_statistics(model: torch.nn.Module) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model


@pytest.mark.parametrize(("name", "input_norm"), [("atcn_81f", "screen"), ("atcn_81f_causal", "frame_place")])
def test_shared_targets_match_the_per_window_form(name, input_norm):
    """K targets from one long input: outputs, batch-norm running statistics and every gradient are those of
    the K windows run separately (per-window channels-last form), loss = mean over the targets."""
    torch.manual_seed(0)
    per_window = create_model(name, channels=32, dropout=0.0, input_norm=input_norm).train()
    shared = copy.deepcopy(per_window)
    x = torch.randn(3, 81 + 7, 17, 2) * 0.3
    target = torch.randn(3, 8, 17, 3) * 0.2
    a = UnfoldedTargets(ChannelsLastAttentionNet(per_window))(x)
    b = SharedTargetsAttentionNet(shared)(x)
    assert b.shape == (3, 8, 17, 3)
    torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    (a - target).norm(dim=-1).mean().backward()
    (b - target).norm(dim=-1).mean().backward()
    scale = max(p.grad.abs().max().item() for p in per_window.parameters())
    for (key, p), q in zip(per_window.named_parameters(), shared.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, rtol=0, atol=1e-5 * scale, msg=key)
    for (key, p), q in zip(per_window.named_buffers(), shared.buffers(), strict=True):
        torch.testing.assert_close(q, p, rtol=0, atol=1e-6, msg=key)


def test_unfolded_targets_is_the_model_window_by_window():
    model = _randomise_statistics(create_model("atcn_27f", channels=16)).eval()
    x = torch.randn(2, 27 + 4, 17, 2)
    out = UnfoldedTargets(model)(x)
    for k in range(5):
        torch.testing.assert_close(out[:, k], model(x[:, k : k + 27])[:, 0])


def _sequences(rng: np.random.Generator) -> list[PoseSequence]:
    return [PoseSequence(rng.normal(size=(n, 17, 2)).astype(np.float32), rng.normal(size=(n, 17, 3)).astype(np.float32))
            for n in (30, 12, 41)]


@pytest.mark.parametrize("causal", [False, True])
def test_runs_of_targets_and_the_device_sampler(rng, causal):
    """A run of K targets is K consecutive windows (moved back to fit its sequence); the device sampler's
    batches equal the host's, flips included."""
    sampler = WindowSampler(_sequences(rng), 9, causal=causal)
    indices = sampler.indices_for_epoch(1, seed=2, run_length=4)
    assert len(indices) and np.all(sampler.sequence_length[indices] >= 4)
    assert np.all(sampler.frame_in_sequence[indices] % 4 == 1)
    flips = np.arange(len(indices)) % 3 == 0
    runs = sampler.gather(indices, flips, count=4)
    assert runs.windows.shape == (len(indices), 12, 17, 2) and runs.targets.shape == (len(indices), 4, 17, 3)
    first = sampler.run_starts(indices, 4)
    for k in range(4):
        single = sampler.gather(first + k, flips)
        np.testing.assert_array_equal(runs.windows[:, k : k + 9], single.windows)
        np.testing.assert_array_equal(runs.targets[:, k], single.targets[:, 0])
        np.testing.assert_array_equal(runs.root[:, k], single.root[:, 0])
    device = DeviceWindowSampler(sampler, "cpu")
    for count in (1, 4):
        host = sampler.gather(indices, flips, count)
        got = device.gather(torch.from_numpy(indices), torch.from_numpy(flips), count)
        for tensor, array in zip(got, (host.windows, host.targets, host.root), strict=True):
            np.testing.assert_array_equal(tensor.numpy(), array)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("pace") / "train.npz"
    save_sequences_npz(path, _sequences(rng))
    return path


def _config(data_file, run_dir, *extra):
    return load_config(None, [
        "model.name=atcn_27f", "model.channels=16", "model.dropout=0", f"data.train={data_file}",
        "epochs=1", "batch_size=24", "max_windows_per_epoch=72", "num_threads=1", "plot=false", "val_flip=false",
        f"output_dir={run_dir}", *extra,
    ])


def _weights(run_dir):
    return load_checkpoint(run_dir / "last.pt")["model"]


def test_device_batches_and_shared_targets_train_as_their_references(data_file, tmp_path):
    """device_data=on trains bit-identically to host batches; targets_per_window=3 trains the same weights
    through the shared form as through the plain per-window model."""
    runs = {}
    for label, extra in {"host": ["device_data=off"], "device": ["device_data=on"],
                         "shared": ["targets_per_window=3"],
                         "shared_plain": ["targets_per_window=3", "fast_training=false"]}.items():
        result = train(_config(data_file, tmp_path / label, *extra), log=lambda message: None)
        assert result.completed and result.step == 3
        runs[label] = _weights(tmp_path / label)
    for key, value in runs["host"].items():
        assert torch.equal(runs["device"][key], value), key
    for key, value in runs["shared_plain"].items():
        torch.testing.assert_close(runs["shared"][key], value, rtol=1e-4, atol=1e-5, msg=key)
    assert not torch.equal(runs["shared"]["pose.head.weight"], runs["host"]["pose.head.weight"])


def test_bf16_autocast_training_steps_are_finite_and_close_to_float32(data_file, tmp_path):
    config = _config(data_file, tmp_path / "bf16", "precision=bf16")
    result = train(config, log=lambda message: None)
    assert result.completed and np.isfinite(result.history[-1]["train_loss_mm"])
    weights = _weights(tmp_path / "bf16")
    assert all(value.dtype != torch.bfloat16 for value in weights.values())  # the state stays float32
    torch.manual_seed(0)
    module = TrainingModule(create_model("atcn_27f", channels=16, dropout=0.0), fast=True)
    sampler = WindowSampler(_sequences(np.random.default_rng(0)), 27)
    batch = sampler.gather(np.arange(48))
    windows, targets = torch.from_numpy(batch.windows), torch.from_numpy(batch.targets)
    losses = {}
    for bf16 in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            pose, _ = copy.deepcopy(module)(windows)
        losses[bf16], _ = compute_loss(config, pose, targets)
        assert losses[bf16].dtype == torch.float32
    assert abs(losses[True].item() - losses[False].item()) < 0.02 * losses[False].item()


@pytest.fixture(scope="module")
def causal_model():
    torch.manual_seed(0)
    return _randomise_statistics(create_model("atcn_27f_causal", channels=64))


def test_lifter_precisions_agree_with_float32(causal_model):
    """bf16 stays within the bound docs/speed.md gives for it (max 12 mm; measured on the shipped models),
    "tf32" on a CPU is float32."""
    kp = np.random.default_rng(0).normal(0, 0.3, (80, 17, 2)).astype(np.float32)
    reference = Lifter(causal_model).lift(kp)
    for optimize in (True, False):
        assert np.abs(Lifter(causal_model, precision="tf32", optimize=optimize).lift(kp) - reference).max() < 1e-5
        low = Lifter(causal_model, precision="bf16", optimize=optimize).lift(kp)
        error = np.abs(low - reference).max()
        assert 0 < error < 0.012, (optimize, error)


def test_accelerator_one_pass_flip_equals_two_passes(causal_model):
    lifter = Lifter(causal_model, optimize=False, batch_size=50)
    kp = np.random.default_rng(1).normal(0, 0.3, (70, 17, 2)).astype(np.float32)
    padded = torch.from_numpy(lifter.pad_sequence(kp))
    with torch.inference_mode():
        both = lifter._lift_views(torch.stack([padded, lifter.mirror_2d(padded)]))
        torch.testing.assert_close(both[0], lifter._lift_padded(padded), rtol=0, atol=1e-5)
        torch.testing.assert_close(both[1], lifter._lift_padded(lifter.mirror_2d(padded)), rtol=0, atol=1e-5)


def test_static_window_stream_equals_the_plain_stream(causal_model):
    """The computation CUDA graphs replay, run eagerly on the CPU: the plain stream's poses, also after reset."""
    kp = np.random.default_rng(2).normal(0, 0.3, (40, 17, 2)).astype(np.float32)
    for flip in (True, False):
        lifter = Lifter(causal_model, optimize=False, flip=flip)
        plain, static = LiftStream(lifter), LiftStream(lifter, static=True)
        for i, frame in enumerate(kp):
            if i == 25:
                plain.reset()
                static.reset()
            np.testing.assert_allclose(static.push(frame), plain.push(frame), rtol=0, atol=1e-6)
