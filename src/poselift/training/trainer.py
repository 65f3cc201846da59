"""The training loop: one process, or many under torchrun (DistributedDataParallel; only rank 0 writes).

A run directory holds `config.json` (the resolved config), `last.pt` (the checkpoint, rewritten atomically),
`metrics.csv` / `metrics.jsonl` (one row per epoch), `training-curves.png`, and the weights in poselift's
safetensors format: `best.safetensors` (lowest validation MPJPE) and `final.safetensors` (plus
`trajectory-*.safetensors` when the trajectory model is trained). Starting again on a directory that has
`last.pt` continues that run; the result is bit-identical to a run that was never interrupted.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from poselift.atomic import write_text_atomic
from poselift.errors import InputError
from poselift.training import distributed, losses
from poselift.training.checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from poselift.training.config import TrainConfig, config_from_dict
from poselift.training.data import build_sequences, epoch_dependent
from poselift.training.optim import (
    bn_momentum,
    build_optimizer,
    learning_rate,
    set_bn_momentum,
    set_learning_rate,
)
from poselift.training.report import plot_curves, write_metrics
from poselift.training.validation import evaluate
from poselift.training.windows import DeviceWindowSampler, WindowSampler, action_balance_weights

CHECKPOINT_NAME = "last.pt"
RESUME_IGNORED_KEYS = frozenset({
    "output_dir", "num_threads", "max_steps", "checkpoint_every_steps", "checkpoint_every_epochs", "plot",
    "device", "description", "device_data",
})
"""Config keys that may change when a run is resumed (they do not change what is computed).
`epochs` may change too (to extend a run): the schedules then follow the new length from where the run is."""

INPUT_NORMALISATION = "normalised screen coordinates: x/w*2-1, y/w*2-h/w (VideoPose3D)"


@dataclass
class LoopState:
    """Counters and history of a run; saved in every checkpoint."""

    epoch: int = 0
    """Epochs completed."""
    batch: int = 0
    """Batches completed in the current epoch."""
    step: int = 0
    """Optimiser steps in all."""
    best_val_mpjpe_mm: float = math.inf
    loss_sum: float = 0.0
    loss_count: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class StepInfo:
    """What a step callback is told after each optimiser step."""

    step: int
    epoch: int
    batch: int
    num_batches: int
    loss: float
    lr: float


@dataclass
class TrainResult:
    """What a call to `train` did."""

    run_dir: Path
    completed: bool
    """True when all epochs are done (False when stopped by max_steps)."""
    epoch: int
    step: int
    history: list[dict[str, Any]]
    final_weights: Path | None = None
    best_weights: Path | None = None


class TrainingModule(nn.Module):
    """The pose network and, optionally, the trajectory network, trained together as one module."""

    def __init__(self, pose: nn.Module, trajectory: nn.Module | None = None, fast: bool = False, targets: int = 1):
        super().__init__()
        self.pose = pose
        self.trajectory = trajectory
        self.targets = targets
        # The training forms wrap the same modules; kept out of the registered children so the state dict
        # (checkpoints, weights) stays the plain models'.
        if targets > 1:
            forms = (_targets_form(pose, fast), _targets_form(trajectory, fast))
        else:
            forms = (_fast_form(pose), _fast_form(trajectory)) if fast else None
        self.__dict__["_fast_forms"] = forms

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, rf + K - 1, J, 2) -> (B, K, J, 3) root-relative pose, and (B, K, 1, 3) root position or None
        (K = targets; 1 unless several targets per window are trained)."""
        pose, trajectory = self.pose, self.trajectory
        if self._fast_forms is not None and (self.training or self.targets > 1):
            pose, trajectory = self._fast_forms
        traj = trajectory(windows) if trajectory is not None else None
        return pose(windows), traj


def _fast_form(model: nn.Module | None) -> nn.Module | None:
    """The model's faster training form (same parameters and gradients), or the model itself."""
    if model is None:
        return None
    from poselift.models.fused import training_form

    return training_form(model)


def _targets_form(model: nn.Module | None, fast: bool) -> nn.Module | None:
    """The model's form with several target frames per input (poselift.models.shared_targets), or None."""
    if model is None:
        return None
    from poselift.models.shared_targets import shared_targets_form

    return shared_targets_form(model, fast)


def create_models(config: TrainConfig) -> tuple[nn.Module, nn.Module | None]:
    """The pose model (and trajectory model when `trajectory_model`) from the registry with the config's overrides."""
    from poselift.models.registry import create_model

    overrides = dict(config.model.overrides)
    if config.model.dropout is not None:
        overrides["dropout"] = config.model.dropout
    pose = create_model(config.model.name, **overrides)
    trajectory = None
    if config.trajectory_model:
        # The root's position needs where the person is and how big they look: screen input, whatever the
        # pose network's input_norm.
        trajectory = create_model(config.model.name, **{**overrides, "num_joints_out": 1, "input_norm": "screen"})
    return pose, trajectory


WIDEN_NOISE = 0.01
"""Relative std of the noise on the copied channels' weights when init_weights widens a model (breaks symmetry)."""


def load_initial_weights(model: nn.Module, source: str, seed: int = 0) -> str:
    """Copy the weights of `source` (a shipped name or a weights file) into `model`, which must share its architecture.

    Dropout may differ (it holds no weights), and the model may be wider than the donor: the donor is then
    widened without changing its output (poselift.models.widen, Net2Net). Any other difference is refused,
    naming the field. Returns a line saying what was done, for the log.
    """
    from poselift.models.registry import load_model
    from poselift.models.widen import widen_state

    donor = load_model(source)
    ours, theirs = asdict(model.config), asdict(donor.config)
    for key in sorted(ours.keys() | theirs.keys()):
        if key == "dropout" or ours.get(key) == theirs.get(key):
            continue
        if key == "channels" and theirs[key] < ours[key]:
            continue
        hint = ": init_weights can widen a model, not narrow it" if key == "channels" else ""
        raise InputError(
            source, f"init_weights: architecture differs from the config's model ({key} is "
            f"{theirs.get(key)!r} in the weights, {ours.get(key)!r} in the config){hint}"
        )
    if ours["channels"] == theirs["channels"]:
        model.load_state_dict(donor.state_dict(), strict=True)
        return f"poselift train: starting from the weights of {source}"
    model.load_state_dict(widen_state(donor, model, noise=WIDEN_NOISE, seed=seed), strict=True)
    return (f"poselift train: starting from the weights of {source}, widened from {theirs['channels']} to "
            f"{ours['channels']} channels (same output up to {WIDEN_NOISE:.0%} noise on the copies)")


def compute_loss(
    config: TrainConfig,
    pose: torch.Tensor,
    targets: torch.Tensor,
    trajectory: torch.Tensor | None = None,
    root: torch.Tensor | None = None,
    log_terms: bool = True,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted sum of the enabled loss terms, and each term's value (metres) for logging (empty without
    `log_terms`: reading a value back waits for the device). Computed in float32 whatever the inputs' dtype."""
    weights = config.loss
    pose, targets = pose.float(), targets.float()
    total = pose.new_zeros(())
    values: dict[str, torch.Tensor] = {}
    if weights.mpjpe:
        values["mpjpe"] = value = losses.mpjpe(pose, targets)
        total = total + weights.mpjpe * value
    if weights.velocity:
        value = losses.velocity_loss(pose, targets)
        if value is not None:
            values["velocity"] = value
            total = total + weights.velocity * value
    if weights.bone_length:
        values["bone_length"] = value = losses.bone_length_loss(pose, targets)
        total = total + weights.bone_length * value
    if trajectory is not None and root is not None and weights.trajectory:
        values["trajectory"] = value = losses.trajectory_loss(trajectory.float(), root.float())
        total = total + weights.trajectory * value
    terms = {name: float(value.detach()) for name, value in values.items()} if log_terms else {}
    return total, terms


def train(
    config: TrainConfig,
    resume: bool | str | Path = True,
    callbacks: Sequence[Callable[[StepInfo], None]] = (),
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train as `config` says, continuing from `output_dir/last.pt` when it exists (or from a given checkpoint).

    `resume`: True continues an existing run in output_dir, a path continues from that checkpoint.
    `callbacks` run after every optimiser step (on every rank); an exception there stops training, and the
    last checkpoint on disk stays valid. Under torchrun this must run in every process.
    """
    info = distributed.setup(config.device)
    try:
        return _Run(config, info, resume, callbacks, log).run()
    finally:
        distributed.teardown(info)


def _default_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_same_run(config: TrainConfig, saved: dict[str, Any], source: str | Path) -> None:
    """Refuse to continue a checkpoint made with a different config (apart from RESUME_IGNORED_KEYS).

    The saved config is read back through the current config types first, so a run saved before a key was
    added (it takes the default) or before a value's form changed (a noise level became a list) still resumes.
    """
    try:
        saved = config_from_dict(saved, str(source)).to_dict()
    except InputError:
        pass  # compared as saved: the first differing key is the clearer message
    now, before = _flatten(config.to_dict()), _flatten(saved)
    for key in sorted(set(now) | set(before)):
        if key in RESUME_IGNORED_KEYS or key == "epochs":
            continue
        if now.get(key) != before.get(key):
            raise InputError(
                source,
                f"holds a run with a different config ({key} = {before.get(key)!r}, now {now.get(key)!r}); "
                "use another output_dir or the run's config.json",
            )


def _num_batches(windows: int, batch_size: int) -> int:
    # A final batch of one window is dropped: batch norm cannot train on a single value per channel.
    return windows // batch_size + (1 if windows % batch_size >= 2 else 0)


class _Run:
    """One call of `train`: holds the model, optimiser, samplers and state while the loop runs."""

    def __init__(self, config, info, resume, callbacks, log):
        self.config: TrainConfig = config
        self.info: distributed.DistInfo = info
        self.resume = resume
        self.callbacks = list(callbacks)
        self.log = log or (_default_log if info.is_main else (lambda message: None))
        self.run_dir = Path(config.output_dir)

    # --- set-up ------------------------------------------------------------------------------

    def _checkpoint_to_resume(self) -> Path | None:
        if self.resume is True:
            path = self.run_dir / CHECKPOINT_NAME
            return path if path.is_file() else None
        if self.resume is False or self.resume is None:
            return None
        return Path(self.resume)

    def _setup(self) -> None:
        config, info = self.config, self.info
        threads = config.num_threads or max(1, (os.cpu_count() or 1) // max(1, info.local_world_size))
        torch.set_num_threads(threads)
        checkpoint_path = self._checkpoint_to_resume()
        checkpoint = None
        if checkpoint_path is not None:
            checkpoint = load_checkpoint(checkpoint_path)
            check_same_run(config, checkpoint["config"], checkpoint_path)
        self.state = LoopState(**checkpoint["state"]) if checkpoint else LoopState()

        torch.manual_seed(config.seed)
        np.random.seed(config.seed % 2**32)
        import random

        random.seed(config.seed)
        # Data before anything is written: a bad data file stops the run with the run directory untouched.
        self.val_sequences = build_sequences(config.data, "val", 0, config.seed)
        self.train_sequences = build_sequences(config.data, "train", self.state.epoch, config.seed, str(info.device))
        self.train_sequences_epoch = self.state.epoch
        try:
            pose, trajectory = create_models(config)
        except TypeError as error:
            raise InputError(None, f"model {config.model.name}: {error}") from None
        if checkpoint is None and config.init_weights:
            self.log(load_initial_weights(pose, config.init_weights, seed=config.seed))
        self.pose, self.trajectory = pose, trajectory
        self.receptive_field = int(pose.receptive_field)
        self.causal = bool(pose.causal)
        module = TrainingModule(pose, trajectory, fast=config.fast_training,
                                targets=config.targets_per_window).to(info.device)
        if info.distributed and info.device.type == "cuda":
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        self.module = module
        self.optimizer = build_optimizer(module.parameters(), config.optim)
        if checkpoint is not None:
            try:
                module.load_state_dict(checkpoint["model"])
                self.optimizer.load_state_dict(checkpoint["optimizer"])
            except (RuntimeError, ValueError, KeyError, TypeError) as error:
                detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
                raise InputError(checkpoint_path, f"checkpoint does not fit this config's model ({detail})") from None
            rng = checkpoint["rng"]
            restore_rng_state(rng[info.rank] if info.rank < len(rng) else rng[0])
            self.log(f"poselift train: resuming {checkpoint_path} at epoch {self.state.epoch + 1}, "
                     f"step {self.state.step}")
        elif info.rank:
            torch.manual_seed(config.seed + 7919 * info.rank)  # different dropout masks on each rank
        if info.distributed:
            device_ids = [info.device] if info.device.type == "cuda" else None
            self.model: nn.Module = nn.parallel.DistributedDataParallel(module, device_ids=device_ids)
        else:
            self.model = module
        self.val_sampler = (
            WindowSampler(self.val_sequences, self.receptive_field, self.causal) if self.val_sequences else None
        )
        self.train_sampler: WindowSampler | None = None
        self.train_weights: np.ndarray | None = None
        """Per-window sampling weights of the training sampler (config.action_balance), or None: uniform."""
        self.batch_size = max(1, config.batch_size // info.world_size)
        if config.loss.velocity and config.targets_per_window == 1:
            self.log("poselift train: loss.velocity is set but each window has one target frame; "
                     "the velocity term is skipped")
        data_on_device = config.device_data == "on" or (config.device_data == "auto" and info.device.type == "cuda")
        self.device_sampler: DeviceWindowSampler | None = None
        self.data_on_device = data_on_device
        # A loss read back every step would wait for the device: summed there, read at checkpoints and epoch ends.
        self.pending_loss: torch.Tensor | None = None
        if info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.run_dir / "config.json", config.to_json())

    # --- outputs -----------------------------------------------------------------------------

    def _flush_loss(self) -> None:
        """Add the loss summed on the device since the last read to the state's float sum."""
        if self.pending_loss is not None:
            self.state.loss_sum += float(self.pending_loss)
            self.pending_loss = None

    def _save_checkpoint(self) -> None:
        self._flush_loss()
        rng = distributed.all_gather_objects(self.info, capture_rng_state())
        if not self.info.is_main:
            return
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, {
            "config": self.config.to_dict(),
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "state": asdict(self.state),
            "sampler": {"seed": self.config.seed, "epoch": self.state.epoch, "batch": self.state.batch,
                        "batch_size": self.batch_size, "world_size": self.info.world_size},
            "rng": rng,
        })

    def _weights_metadata(self) -> dict[str, Any]:
        fps = [seq.fps for seq in self.train_sequences]
        last = self.state.history[-1] if self.state.history else {}
        data = self.config.data
        description = self.config.description or f"{data.kind}: {', '.join(data.train) or data.data_3d}"
        return {
            "fps": float(np.median(fps)) if fps else None,
            "training_data": description,
            "joint_layout": "h36m17",
            "normalisation": INPUT_NORMALISATION,
            "epochs": self.state.epoch,
            "steps": self.state.step,
            "val_mpjpe_mm": last.get("val_mpjpe_mm"),
            "train_config": self.config.to_dict(),
        }

    def _save_weights(self, name: str) -> Path:
        from poselift.models.weights import save_weights

        meta = self._weights_metadata()
        path = save_weights(self.pose, self.run_dir / f"{name}.safetensors", meta)
        if self.trajectory is not None:
            save_weights(self.trajectory, self.run_dir / f"trajectory-{name}.safetensors",
                         {**meta, "output": "root position, camera-frame metres"})
        return path

    def _end_epoch(self, epoch: int, lr: float, seconds: float, windows_this_session: int) -> None:
        state, info, config = self.state, self.info, self.config
        self._flush_loss()
        loss_sum, loss_count = distributed.all_reduce_sum(info, [state.loss_sum, state.loss_count])
        row: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": state.step,
            "lr": lr,
            "bn_momentum": bn_momentum(config.optim, epoch, config.epochs),
            "train_loss_mm": loss_sum / max(loss_count, 1) * 1000,
            "train_windows": int(loss_count),
            "seconds": round(seconds, 3),
            # None when the run resumed at the epoch's very end: nothing was trained to time.
            "windows_per_second": (round(windows_this_session * info.world_size / max(seconds, 1e-9), 1)
                                   if windows_this_session else None),
        }
        if info.is_main and self.val_sampler is not None:
            row.update(evaluate(
                self.pose, self.val_sampler, stride=config.val_stride, max_windows=config.max_val_windows,
                batch_size=self.batch_size, flip=config.val_flip, device=info.device,
            ))
        row = distributed.broadcast_object(info, row)
        state.history.append(row)
        state.epoch, state.batch = epoch + 1, 0
        state.loss_sum, state.loss_count = 0.0, 0.0
        improved = "val_mpjpe_mm" in row and row["val_mpjpe_mm"] < state.best_val_mpjpe_mm
        if improved:
            state.best_val_mpjpe_mm = row["val_mpjpe_mm"]
        if info.is_main:
            write_metrics(self.run_dir, state.history)
            if config.plot:
                plot_curves(self.run_dir / "training-curves.png", state.history)
            if improved:
                self._save_weights("best")
        val = f", val MPJPE {row['val_mpjpe_mm']:.1f} mm" if "val_mpjpe_mm" in row else ""
        if "val_p_mpjpe_mm" in row:
            val += f", P-MPJPE {row['val_p_mpjpe_mm']:.1f} mm"
        rate = row["windows_per_second"]
        speed = f", {rate:.0f} windows/s" if rate is not None else ""
        self.log(f"epoch {epoch + 1}/{config.epochs}: train loss {row['train_loss_mm']:.1f} mm{val}, "
                 f"lr {lr:.2e}{speed}")
        every = config.checkpoint_every_epochs
        if state.epoch == config.epochs or (every and state.epoch % every == 0):
            self._save_checkpoint()

    # --- the loop ----------------------------------------------------------------------------

    def _prepare_epoch(self, epoch: int) -> None:
        config = self.config
        if epoch != self.train_sequences_epoch and epoch_dependent(config.data):
            self.train_sequences = build_sequences(config.data, "train", epoch, config.seed, str(self.info.device))
            self.train_sequences_epoch = epoch
            self.train_sampler = None
        if self.train_sampler is None:
            self.train_sampler = WindowSampler(self.train_sequences, self.receptive_field, self.causal)
            self.device_sampler = (
                DeviceWindowSampler(self.train_sampler, self.info.device) if self.data_on_device else None
            )
            self.train_weights = (
                action_balance_weights(self.train_sequences, config.action_balance) if config.action_balance else None
            )

    def _result(self, completed: bool) -> TrainResult:
        best = self.run_dir / "best.safetensors"
        final = self.run_dir / "final.safetensors"
        return TrainResult(
            run_dir=self.run_dir, completed=completed, epoch=self.state.epoch, step=self.state.step,
            history=self.state.history, final_weights=final if completed and final.exists() else None,
            best_weights=best if best.exists() else None,
        )

    def run(self) -> TrainResult:
        from tqdm import tqdm

        self._setup()
        config, info, state = self.config, self.info, self.state
        quiet = not (info.is_main and sys.stderr.isatty())
        lr = learning_rate(config.optim, state.epoch, config.epochs)
        while state.epoch < config.epochs:
            epoch = state.epoch
            self._prepare_epoch(epoch)
            sampler = self.train_sampler
            count = config.targets_per_window
            max_windows = -(-config.max_windows_per_epoch // count)
            indices = sampler.indices_for_epoch(
                epoch, config.seed, stride=config.window_stride, max_windows=max_windows,
                rank=info.rank, world_size=info.world_size, weights=self.train_weights, run_length=count,
            )
            if config.flip_augment:
                flips = sampler.flip_mask(epoch, config.seed, len(indices), info.rank)
            else:
                flips = np.zeros(len(indices), dtype=bool)
            runs_per_batch = max(1, self.batch_size // count)
            num_batches = _num_batches(len(indices), runs_per_batch)
            device = info.device
            on_device = self.device_sampler is not None
            if on_device:
                indices_d = torch.from_numpy(indices).to(device)
                flips_d = torch.from_numpy(flips).to(device)
            autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
            lazy_loss = on_device and device.type != "cpu" and not self.callbacks and quiet
            set_bn_momentum(self.module, bn_momentum(config.optim, epoch, config.epochs))
            self.module.train()
            started = time.perf_counter()
            windows_done = 0
            with tqdm(total=num_batches, initial=state.batch, disable=quiet, leave=False,
                      desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch") as bar:
                for b in range(state.batch, num_batches):
                    lr = learning_rate(config.optim, epoch + b / num_batches, config.epochs)
                    set_learning_rate(self.optimizer, lr)
                    part = slice(b * runs_per_batch, (b + 1) * runs_per_batch)
                    if on_device:
                        windows, targets, root = self.device_sampler.gather(indices_d[part], flips_d[part], count)
                    else:
                        batch = sampler.gather(indices[part], flips[part], count)
                        windows, targets, root = (torch.from_numpy(a).to(device)
                                                  for a in (batch.windows, batch.targets, batch.root))
                    with autocast:
                        pose, trajectory = self.model(windows)
                    loss, _ = compute_loss(config, pose, targets, trajectory, root, log_terms=False)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if config.optim.grad_clip:
                        nn.utils.clip_grad_norm_(self.module.parameters(), config.optim.grad_clip)
                    self.optimizer.step()
                    n = windows.shape[0] * count
                    state.step += 1
                    state.batch = b + 1
                    state.loss_count += n
                    windows_done += n
                    bar.update(1)
                    if lazy_loss:
                        loss_value = math.nan  # read back at checkpoints and epoch ends only
                        done = loss.detach().double() * n
                        self.pending_loss = done if self.pending_loss is None else self.pending_loss + done
                    else:
                        loss_value = float(loss.detach())
                        state.loss_sum += loss_value * n
                        bar.set_postfix(loss_mm=f"{loss_value * 1000:.1f}", lr=f"{lr:.1e}", refresh=False)
                    for callback in self.callbacks:
                        callback(StepInfo(state.step, epoch, b, num_batches, loss_value, lr))
                    every = config.checkpoint_every_steps
                    if every and state.step % every == 0:
                        self._save_checkpoint()
                    if config.max_steps and state.step >= config.max_steps:
                        if not (every and state.step % every == 0):
                            self._save_checkpoint()
                        self.log(f"poselift train: stopped at step {state.step} (max_steps); "
                                 f"run again to continue from {self.run_dir / CHECKPOINT_NAME}")
                        return self._result(completed=False)
            self._end_epoch(epoch, lr, time.perf_counter() - started, windows_done)
        if info.is_main:
            final = self._save_weights("final")
            self.log(f"poselift train: done; weights in {final}")
        distributed.barrier(info)
        return self._result(completed=True)
