"""Speed of lifting, streaming and training on this machine, each figure beside its baseline measured in the same run.

    python benchmarks/speed.py --json speed.json            # every section (~7 min on 2 quiet cores)
    python benchmarks/speed.py --json speed.json --quick    # shorter sequences, fewer repeats (~2 min)
    python benchmarks/speed.py --only offline,stream        # some sections
    python benchmarks/speed.py --video clip.mp4             # also time `poselift video` stages

Every figure is a median over repeats after a warm-up, in wall-clock time with torch's intra-op thread count
set by --threads (default: all cores). The load average is recorded before and after each section: other
processes on the machine slow everything down, and intra-op parallelism (the plain models' only kind)
suffers most, so re-run when the machine is quiet for final numbers. Throughputs are also given as a
fraction of the machine's float32 matrix-multiply rate, measured at the start (the roofline).

Models have random weights with randomised batch-norm statistics (speed does not depend on the values; the
randomised statistics make the equality checks meaningful). Reduced-precision (bf16) errors are reported
relative to the output spread of such a model, which is not a trained one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from poselift.inference import Lifter
from poselift.models.flops import flops_per_frame
from poselift.models.fused import fuse_for_inference
from poselift.models.registry import create_model

SECTIONS = ("offline", "default", "videopose3d", "stream", "train", "memory", "shipped", "video")
SHARED_MOCAP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mocap" / "bandai-namco"
TARGETS = {
    "offline_fast": ("frames/s", ">=", 600.0),
    "offline_speedup": ("x", ">=", 3.0),
    "offline_max_diff_m": ("m", "<=", 1e-4),
    "default_fast": ("frames/s", ">=", 2000.0),
    "videopose3d_max_diff_m": ("m", "<=", 1e-4),
    "videopose3d_speedup": ("x", ">=", 1.0),
    "stream_paper_median_ms": ("ms", "<=", 5.0),
    "stream_default_median_ms": ("ms", "<=", 2.0),
    "train_speedup": ("x", ">=", 2.0),
    "memory_one_hour_peak_mb": ("MB", "<", 2048.0),
    "video_overhead_fraction": ("x", "<=", 0.15),
}


# --- measuring ---------------------------------------------------------------------------------

def measure(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median wall and CPU seconds of `fn` over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"wall_s": statistics.median(walls), "wall_min_s": min(walls), "cpu_s": statistics.median(cpus),
            "runs": repeats}


def load() -> float:
    return round(os.getloadavg()[0], 2)


def machine(threads: int) -> dict[str, Any]:
    """CPU model, the flags that matter for matmuls, cores, torch and its math libraries."""
    model, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", "x86_64"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile",
              "amx_int8", "avx_vnni")
    return {
        "cpu": model,
        "flags": [f for f in wanted if f in flags],
        "cores": os.cpu_count(),
        "threads": threads,
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkl": torch.backends.mkl.is_available(),
        "onednn": torch.backends.mkldnn.is_available(),
        "python": platform.python_version(),
        "load_average": list(os.getloadavg()),
    }


def matmul_rates(quick: bool) -> dict[str, float]:
    """GFLOP/s of (4096 x 1024) @ (1024 x 1024): torch.mm float32 (the roofline), oneDNN packed, bf16."""
    a, b = torch.randn(4096, 1024), torch.randn(1024, 1024)
    flop = 2 * 4096 * 1024 * 1024
    repeats = 5 if quick else 15
    rates = {"fp32_mm": flop / measure(lambda: torch.mm(a, b), repeats)["wall_s"] / 1e9}
    if torch.backends.mkldnn.is_available():
        packed = torch.ops.mkldnn._reorder_linear_weight(b.t().contiguous())
        run = lambda: torch.ops.mkldnn._linear_pointwise(a, packed, None, "none", [], "")  # noqa: E731
        rates["fp32_onednn"] = flop / measure(run, repeats)["wall_s"] / 1e9
    ab, bb = a.bfloat16(), b.bfloat16()
    rates["bf16_mm"] = flop / measure(lambda: torch.mm(ab, bb), repeats)["wall_s"] / 1e9
    rates["roofline_fp32"] = max(rates["fp32_mm"], rates.get("fp32_onednn", 0.0))
    return rates


# --- inputs and models -------------------------------------------------------------------------

def keypoints(frames: int, seed: int = 0) -> np.ndarray:
    """Smooth synthetic 2D motion (T, 17, 2) in normalised screen coordinates: a pose plus joint oscillations."""
    rng = np.random.default_rng(seed)
    t = (np.arange(frames, dtype=np.float32) / 30.0)[:, None, None]
    out = np.empty((frames, 17, 2), dtype=np.float32)
    out[:] = rng.normal(0, 0.2, size=(17, 2)).astype(np.float32)
    out += 0.2 * np.sin(2 * np.pi * 0.05 * t)
    for _ in range(3):
        freq = rng.uniform(0.2, 2.0, size=(17, 2)).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, size=(17, 2)).astype(np.float32)
        out += 0.04 * np.sin(2 * np.pi * freq * t + phase)
    return out


def rss_mb() -> float:
    """Current resident memory of this process, MB (Linux)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


def random_model(name: str, seed: int = 0, **overrides) -> nn.Module:
    """A registered variant with random weights and randomised batch-norm statistics, in eval mode."""
    torch.manual_seed(seed)
    model = create_model(name, **overrides)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.normal_(0, 0.3)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.8, 1.2)
            module.bias.data.normal_(0, 0.1)
    return model.eval()


def figure(value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"value": value, "unit": unit, **extra}


def error_stats(got: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Max and mean per-joint error (mm) and the reference's spread (mm), for reduced-precision paths."""
    joint = np.linalg.norm(got - reference, axis=-1) * 1000
    spread = float(np.linalg.norm(reference - reference.mean(axis=0), axis=-1).mean() * 1000)
    return {"max_mm": float(joint.max()), "mean_mm": float(joint.mean()), "output_spread_mm": spread}


# --- sections ----------------------------------------------------------------------------------

def offline(name: str, overrides: dict, frames: int, repeats: int, base_repeats: int, rates: dict,
            baseline_batch: int, with_bf16: bool) -> dict[str, Any]:
    """Whole-sequence lifting: the fused path (Lifter default) against the plain model's per-window batches."""
    model = random_model(name, **overrides)
    kp = keypoints(frames)
    fast = Lifter(model, flip=False)
    plain = Lifter(model, flip=False, optimize=False, batch_size=baseline_batch)
    fast.lift(kp[:500])
    got = fast.lift(kp)
    timing = measure(lambda: fast.lift(kp), repeats, warmup=0)
    plain.lift(kp[:300])
    reference = {}

    def run_plain() -> None:
        reference["poses"] = plain.lift(kp)

    base = measure(run_plain, base_repeats, warmup=0)
    flops = flops_per_frame(model)
    fps, base_fps = frames / timing["wall_s"], frames / base["wall_s"]
    out = {
        "fast": figure(fps, "frames/s", cpu_ms_per_frame=timing["cpu_s"] / frames * 1e3,
                       roofline_fraction=fps * flops / (rates["roofline_fp32"] * 1e9)),
        "baseline": figure(base_fps, "frames/s", batch=baseline_batch,
                           roofline_fraction=base_fps * flops / (rates["roofline_fp32"] * 1e9)),
        "speedup": figure(fps / base_fps, "x"),
        "max_diff_m": figure(float(np.abs(got - reference["poses"]).max()), "m"),
        "mflop_per_frame": flops / 1e6,
        "frames": frames,
    }
    flipped = Lifter(model, flip=True)
    flip_time = measure(lambda: flipped.lift(kp), max(1, repeats - 1), warmup=0)
    out["fast_flip"] = figure(frames / flip_time["wall_s"], "frames/s", note="with flip averaging (2 passes)")
    if with_bf16:
        bf16 = fuse_for_inference(model, precision="bf16")
        padded = torch.from_numpy(fast.pad_sequence(kp))
        low = bf16.lift_padded(padded).numpy()
        bf_time = measure(lambda: bf16.lift_padded(padded), repeats, warmup=0)
        out["bf16"] = figure(frames / bf_time["wall_s"], "frames/s", **error_stats(low, reference["poses"]))
    return out


class VideoPose3DReference(nn.Module):
    """VideoPose3D's own TemporalModel forward (Pavllo et al. 2019), re-implemented as the baseline.

    Conv1d + BatchNorm1d + ReLU + Dropout blocks in (B, C, T) layout, one pass over the whole sequence,
    the residual cropped to the output (shifted to the end of each window when causal), as in their code.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        cfg = model.config
        self.expand_conv, self.expand_bn, self.shrink = model.expand_conv, model.expand_bn, model.head
        self.layers_conv = nn.ModuleList()
        self.layers_bn = nn.ModuleList()
        self.pad, self.causal_shift = [], []
        dilation = cfg.filter_widths[0]
        for block, width in zip(model.blocks, cfg.filter_widths[1:], strict=True):
            self.layers_conv.extend([block.dilated, block.pointwise])
            self.layers_bn.extend([block.dilated_bn, block.pointwise_bn])
            self.pad.append((width - 1) * dilation // 2)
            self.causal_shift.append(self.pad[-1] if cfg.causal else 0)
            dilation *= width
        self.relu, self.drop = nn.ReLU(inplace=True), nn.Dropout(cfg.dropout)
        self.joints = cfg.num_joints_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        x = x.view(batch, x.shape[1], -1).permute(0, 2, 1)
        x = self.drop(self.relu(self.expand_bn(self.expand_conv(x))))
        for i, (pad, shift) in enumerate(zip(self.pad, self.causal_shift, strict=True)):
            res = x[:, :, pad + shift : x.shape[2] - pad + shift]
            x = self.drop(self.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))))
            x = res + self.drop(self.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))))
        return self.shrink(x).permute(0, 2, 1).reshape(batch, -1, self.joints, 3)


def videopose3d(frames: int, repeats: int, rates: dict) -> dict[str, Any]:
    """VideoPose3D 243 frames, 1024 channels, full-sequence form: fused paths against their own forward."""
    model = random_model("videopose3d_243f")
    reference_net = VideoPose3DReference(model).eval()
    kp = keypoints(frames, seed=1)
    lifter = Lifter(model, flip=False)
    padded = torch.from_numpy(lifter.pad_sequence(kp))
    with torch.inference_mode():
        reference = reference_net(padded[None])[0].numpy()
        plain = model.forward_sequence(padded[None])[0].numpy()
    assert np.abs(reference - plain).max() < 1e-4, "the re-implementation must match VideoPose3DNet"

    def run_reference() -> None:
        with torch.inference_mode():
            reference_net(padded[None])

    base = measure(run_reference, repeats)
    got = lifter.lift(kp)
    fast = measure(lambda: lifter.lift(kp), repeats)
    bf16 = fuse_for_inference(model, precision="bf16")
    low = bf16.lift_padded(padded).numpy()
    low_time = measure(lambda: bf16.lift_padded(padded), repeats)
    flops = flops_per_frame(model)
    roof = rates["roofline_fp32"] * 1e9
    base_fps, fps, bf_fps = frames / base["wall_s"], frames / fast["wall_s"], frames / low_time["wall_s"]
    return {
        "baseline": figure(base_fps, "frames/s", roofline_fraction=base_fps * flops / roof,
                           note="VideoPose3D's forward, whole padded sequence in one pass"),
        "fast": figure(fps, "frames/s", roofline_fraction=fps * flops / roof),
        "speedup": figure(fps / base_fps, "x"),
        "max_diff_m": figure(float(np.abs(got - reference).max()), "m"),
        "bf16": figure(bf_fps, "frames/s", speedup=bf_fps / base_fps, roofline_fraction=bf_fps * flops / roof,
                       **error_stats(low, reference)),
        "mflop_per_frame": flops / 1e6,
        "frames": frames,
    }


def stream(name: str, overrides: dict, frames: int, plain_frames: int, alternatives: dict[str, dict] | None = None,
           bf16: bool = False) -> dict[str, Any]:
    """Causal frame-by-frame lifting at batch 1 with flip averaging (the Lifter default): latency per frame."""
    model = random_model(name, **overrides)
    kp = keypoints(frames + 40, seed=2)
    alternatives = alternatives or {}

    def latencies(stream_obj, count: int) -> tuple[np.ndarray, np.ndarray]:
        for frame in kp[:30]:  # warm-up, and the window fills
            stream_obj.push(frame)
        times, poses = [], []
        for frame in kp[30 : 30 + count]:
            start = time.perf_counter()
            poses.append(stream_obj.push(frame))
            times.append(time.perf_counter() - start)
        return np.array(times) * 1e3, np.array(poses)

    lifter = Lifter(model)
    fast_ms, fast_poses = latencies(lifter.stream(), frames)
    plain_ms, plain_poses = latencies(Lifter(model, optimize=False).stream(), plain_frames)
    out = {
        "median_ms": figure(float(np.median(fast_ms)), "ms", p99_ms=float(np.percentile(fast_ms, 99)),
                            p90_ms=float(np.percentile(fast_ms, 90)), frames=frames,
                            threads=lifter.fast.stream().threads or torch.get_num_threads()),
        "baseline_median_ms": figure(float(np.median(plain_ms)), "ms", p99_ms=float(np.percentile(plain_ms, 99)),
                                     frames=plain_frames, note="plain LiftStream: the whole window per frame"),
        "max_diff_m": figure(float(np.abs(fast_poses[:plain_frames] - plain_poses).max()), "m"),
    }
    flip = lifter._flip_in.numpy()
    for label, options in alternatives.items():
        ms, _ = latencies(lifter.fast.stream(flip, **options), frames // 2)
        out[f"{label}_median_ms"] = figure(float(np.median(ms)), "ms", p99_ms=float(np.percentile(ms, 99)),
                                           frames=frames // 2, options=str(options))
    if bf16:
        low = fuse_for_inference(model, precision="bf16")
        ms, poses = latencies(low.stream(flip), frames // 2)
        out["bf16_median_ms"] = figure(float(np.median(ms)), "ms", p99_ms=float(np.percentile(ms, 99)),
                                       frames=frames // 2, **error_stats(poses, fast_poses[: frames // 2]))
    return out


def train(steps: int, batch: int, sequences: int, frames: int) -> dict[str, Any]:
    """Training windows/s, sampling included, against the per-window Python-loop sampler with the plain model.

    All feed the shipped default's stand-in (atcn_81f, 256 channels) through the same step: forward, MPJPE,
    backward, Ranger. "fast": the vectorised WindowSampler and the channels-last training form (same
    parameters, function and gradients); "sampler_only": the vectorised sampler with the plain forward.
    """
    from poselift.data.sequences import PoseSequence
    from poselift.models.fused import training_form
    from poselift.training import losses
    from poselift.training.config import OptimConfig
    from poselift.training.optim import build_optimizer
    from poselift.training.windows import LoopWindowSampler, WindowSampler

    rng = np.random.default_rng(3)
    data = [PoseSequence(keypoints(frames, seed=10 + i), rng.normal(0, 0.3, (frames, 17, 3)).astype(np.float32))
            for i in range(sequences)]
    results: dict[str, Any] = {}
    plans = (("fast", WindowSampler, True), ("sampler_only", WindowSampler, False),
             ("baseline", LoopWindowSampler, False))
    for label, sampler_class, fast_forward in plans:
        model = random_model("atcn_81f", channels=256).train()
        net = training_form(model) if fast_forward else model
        optimizer = build_optimizer(model.parameters(), OptimConfig())
        sampler = sampler_class(data, model.receptive_field, causal=model.causal)
        order = np.random.default_rng(4).permutation(sampler.num_windows)
        flips = np.random.default_rng(5).random(sampler.num_windows) < 0.5
        batches = [(order[b * batch : (b + 1) * batch], flips[b * batch : (b + 1) * batch]) for b in range(steps + 1)]
        training_step(net, optimizer, sampler, *batches[0], losses.mpjpe)  # warm-up
        gather_s, start, cpu = 0.0, time.perf_counter(), time.process_time()
        for indices, flip in batches[1:]:
            gather_s += training_step(net, optimizer, sampler, indices, flip, losses.mpjpe)
        wall = time.perf_counter() - start
        results[label] = figure(steps * batch / wall, "windows/s", gather_share=gather_s / wall,
                                gather_ms_per_batch=gather_s / steps * 1e3,
                                cpu_ms_per_window=(time.process_time() - cpu) / (steps * batch) * 1e3)
    results["speedup"] = figure(results["fast"]["value"] / results["baseline"]["value"], "x")
    results["sampler_only_speedup"] = figure(results["sampler_only"]["value"] / results["baseline"]["value"], "x")
    results["batch"] = batch
    return results


def training_step(model: nn.Module, optimizer, sampler, indices: np.ndarray, flip: np.ndarray, loss_fn) -> float:
    """One optimiser step on the windows `indices` gathered by `sampler`; returns the seconds spent gathering."""
    start = time.perf_counter()
    batch = sampler.gather(indices, flip)
    gathered = time.perf_counter() - start
    loss = loss_fn(model(torch.from_numpy(batch.windows)), torch.from_numpy(batch.targets))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return gathered


def memory(frames: int, model_name: str, overrides: dict) -> dict[str, Any]:
    """Peak resident memory of lifting `frames` frames (flip averaging on), in a fresh subprocess."""
    cmd = [sys.executable, __file__, "--memory-child", str(frames), model_name, json.dumps(overrides)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    child = json.loads(done.stdout.strip().splitlines()[-1])
    return {"one_hour_peak_mb": figure(child["peak_mb"], "MB", before_lift_mb=child["before_mb"],
                                       frames=frames, model=model_name, seconds=child["seconds"],
                                       frames_per_s=frames / child["seconds"])}


def memory_child(frames: int, model_name: str, overrides: dict) -> None:
    model = random_model(model_name, **overrides)
    lifter = Lifter(model)
    kp = keypoints(frames, seed=6)
    before = rss_mb()
    start = time.perf_counter()
    poses = lifter.lift(kp)
    seconds = time.perf_counter() - start
    assert poses.shape == (frames, 17, 3)
    print(json.dumps({"peak_mb": peak_rss_mb(), "before_mb": before, "seconds": seconds}))


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB: VmHWM (ru_maxrss would also count the parent's memory at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def shipped(frames: int, stream_frames: int) -> dict[str, Any]:
    """The shipped pretrained models: lifting (flip on, as `poselift lift`), streaming, and the bf16 error of
    trained weights on motion-capture 2D (when ../shared's mocap is there)."""
    from poselift.models.registry import PRETRAINED, load_model

    out: dict[str, Any] = {}
    real = None
    if SHARED_MOCAP.is_dir():
        from poselift.evaluation.mocap import mocap_evaluation_sequences

        files = sorted(SHARED_MOCAP.rglob("*.bvh"))[:12]
        real = [s.keypoints_2d for s in mocap_evaluation_sequences(files, views_per_clip=2, max_seconds=8.0)]
    kp = keypoints(frames, seed=7)
    for name in sorted(PRETRAINED):
        try:
            model = load_model(name)
        except Exception as error:  # noqa: BLE001 - a missing file only skips the figure
            out[name] = {"skipped": str(error)}
            continue
        lifter = Lifter(model)
        lifter.lift(kp[:300])
        timing = measure(lambda lifter=lifter: lifter.lift(kp), 3, warmup=0)
        out[f"{name}_lift"] = figure(frames / timing["wall_s"], "frames/s", note="flip averaging on")
        if model.causal:
            stream_obj = lifter.stream()
            times = []
            for frame in kp[: stream_frames + 30]:
                start = time.perf_counter()
                stream_obj.push(frame)
                times.append(time.perf_counter() - start)
            ms = np.array(times[30:]) * 1e3
            out[f"{name}_stream_median_ms"] = figure(float(np.median(ms)), "ms", p99_ms=float(np.percentile(ms, 99)))
        if real:
            plain, low = Lifter(model, flip=False, optimize=False), fuse_for_inference(model, precision="bf16")
            pairs = [(low.lift_padded(torch.from_numpy(plain.pad_sequence(k))).numpy(), plain.lift(k)) for k in real]
            joint = np.concatenate([np.linalg.norm(a - b, axis=-1).ravel() for a, b in pairs]) * 1000
            out[f"{name}_bf16_error_mm"] = figure(float(joint.mean()), "mm", max_mm=float(joint.max()),
                                                  p99_mm=float(np.percentile(joint, 99)), frames=len(joint) // 17,
                                                  note="mean per-joint error of bf16 against float32, mocap 2D")
    return out


def concatenate_videos(paths: list[str], out: Path) -> Path:
    """One 30 fps H.264 file holding the clips one after another (all scaled to the first clip's size)."""
    from poselift.video.decode import iter_frames, probe_video
    from poselift.video.render import VideoWriter

    info = probe_video(paths[0])
    with VideoWriter(out, info.width, info.height, 30.0) as writer:
        for path in paths:
            for frame in iter_frames(path, size=(info.width, info.height)):
                writer.write(frame.image)
    return out


def video(paths: list[str] | None) -> dict[str, Any]:
    """`poselift video` stages: decode + 2D against lifting + trajectory + render (needs poselift.video.pipeline).

    Several paths are joined into one longer clip first, so per-run costs (loading the detector and the
    model, opening the encoder) weigh as they do on a real video rather than on a 3-second clip.
    """
    if importlib.util.find_spec("poselift.video.pipeline") is None:
        return {"skipped": "poselift.video.pipeline is not there"}
    from poselift.video.pipeline import process_video

    if not paths:
        return {"skipped": "no --video given"}
    with tempfile.TemporaryDirectory() as out:
        path = paths[0] if len(paths) == 1 else concatenate_videos(paths, Path(out) / "joined.mp4")
        start = time.perf_counter()
        result = process_video(path, Path(out) / "run", progress=False, viewer=False)
        wall = time.perf_counter() - start
    stages = dict(result.stage_seconds)
    front = stages.get("2d", 0.0)
    rest = sum(v for k, v in stages.items() if k != "2d")
    return {
        "clips": len(paths),
        "stage_seconds": stages,
        "decode_2d_s": figure(front, "s"),
        "lift_trajectory_render_s": figure(rest, "s",
                                           note="every stage after 2D: tracking, lifting, trajectory, render"),
        "overhead_fraction": figure(rest / front if front else float("nan"), "x",
                                    note="stages after 2D over decode + 2D"),
        "total_s": figure(wall, "s", frames=result.num_frames, frames_per_s=result.num_frames / wall),
    }


# --- report ------------------------------------------------------------------------------------

def flatten(results: dict[str, Any]) -> dict[str, float]:
    """section_figure -> value, for the targets."""
    flat = {}
    for section, figures in results.get("sections", {}).items():
        for key, value in figures.items():
            if isinstance(value, dict) and "value" in value:
                flat[f"{section}_{key}"] = value["value"]
    return flat


def rescale_roofline(results: dict[str, Any]) -> None:
    """Express roofline fractions against the best float32 matmul rate seen in the run (less load-dependent)."""
    rates = results["matmul_gflops"]
    best = max(v for k, v in rates.items() if k.startswith("fp32"))
    scale = rates["roofline_fp32"] / best
    rates["roofline_fp32"] = best
    for figures in results["sections"].values():
        for value in figures.values():
            if isinstance(value, dict) and "roofline_fraction" in value:
                value["roofline_fraction"] *= scale


def check_targets(results: dict[str, Any]) -> dict[str, Any]:
    flat = flatten(results)
    checks = {}
    for key, (unit, op, target) in TARGETS.items():
        if key not in flat:
            continue
        value = flat[key]
        met = {">=": value >= target, "<=": value <= target, "<": value < target}[op]
        checks[key] = {"value": value, "target": f"{op} {target:g} {unit}", "met": bool(met)}
    return checks


def table(results: dict[str, Any]) -> str:
    lines = [f"{'figure':44s} {'value':>12s}  {'unit':9s} {'baseline':>10s} {'roofline':>8s}  notes", "-" * 110]
    for section, figures in results["sections"].items():
        for key, value in figures.items():
            if not (isinstance(value, dict) and "value" in value):
                continue
            base = figures.get("baseline", {}) if key == "fast" else {}
            roof = value.get("roofline_fraction")
            notes = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items()
                              if k not in ("value", "unit", "roofline_fraction"))
            lines.append(f"{section + '.' + key:44s} {value['value']:12.4g}  {value['unit']:9s} "
                         f"{base.get('value', float('nan')):10.4g} {roof if roof is not None else float('nan'):8.2f}"
                         f"  {notes}")
    lines.append("")
    for key, check in results["targets"].items():
        lines.append(f"target {key:36s} {check['value']:12.4g}  {check['target']:18s} "
                     f"{'MET' if check['met'] else 'NOT MET'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument("--quick", action="store_true", help="shorter sequences and fewer repeats")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch intra-op threads")
    parser.add_argument("--baseline-batch", type=int, default=256, help="windows per batch of the plain model")
    parser.add_argument("--video", nargs="+", help="video(s) for the `poselift video` stage timings (several: joined)")
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(int(args.memory_child[0]), args.memory_child[1], json.loads(args.memory_child[2]))
        return 0
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    quick = args.quick
    results: dict[str, Any] = {"machine": machine(args.threads), "quick": quick, "sections": {}, "load": {}}
    results["matmul_gflops"] = rates = matmul_rates(quick)
    print("matmul GFLOP/s: " + ", ".join(f"{k} {v:.0f}" for k, v in rates.items()), flush=True)
    repeats = 2 if quick else 3
    a, b = torch.randn(4096, 1024), torch.randn(1024, 1024)
    plans: dict[str, Callable[[], dict[str, Any]]] = {
        "offline": lambda: offline("atcn_243f", {}, 1500 if quick else 10_000, repeats, 1 if quick else 2, rates,
                                   args.baseline_batch, with_bf16=True),
        "default": lambda: offline("atcn_81f", {"channels": 256}, 4000 if quick else 10_000, repeats,
                                   1 if quick else 2, rates, args.baseline_batch, with_bf16=True),
        "videopose3d": lambda: videopose3d(3000 if quick else 10_000, repeats, rates),
        "stream": lambda: {
            **{f"paper_{k}": v for k, v in stream(
                "atcn_243f_causal", {}, 60 if quick else 300, 20 if quick else 60,
                {"one_thread": {"threads": 1}, "z_rows": {"z_rows": True}}, bf16=True).items()},
            **{f"default_{k}": v for k, v in stream(
                "atcn_81f_causal", {"channels": 256}, 200 if quick else 1000, 50 if quick else 200,
                {"all_threads": {"threads": None}}, bf16=True).items()},
        },
        "train": lambda: train(2 if quick else 4, 1024, 20, 1000),
        "memory": lambda: memory(108_000, "atcn_81f", {"channels": 256}),
        "shipped": lambda: shipped(2000 if quick else 10_000, 200 if quick else 1000),
        "video": lambda: video(args.video),
    }
    for name in sections:
        before = load()
        rates["fp32_mm_before_" + name] = 2 * 4096 * 1024**2 / measure(lambda: torch.mm(a, b), 5)["wall_s"] / 1e9
        print(f"[{name}] load {before}, fp32 matmul {rates['fp32_mm_before_' + name]:.0f} GFLOP/s ...", flush=True)
        start = time.perf_counter()
        results["sections"][name] = plans[name]()
        results["load"][name] = {"before": before, "after": load(), "seconds": time.perf_counter() - start}
        print(json.dumps(results["sections"][name], default=float)[:400], flush=True)
    rescale_roofline(results)
    results["targets"] = check_targets(results)
    results["machine"]["load_average_end"] = list(os.getloadavg())
    print(table(results))
    if args.json:
        from poselift.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(results, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
