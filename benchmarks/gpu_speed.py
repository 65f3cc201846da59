"""The GPU speed table of issue 25 in one run: poselift beside the authors' model, on whatever device is given.

    PYTHONPATH=src python benchmarks/gpu_speed.py --mocap DIR --out OUT [--steps 300] [--device cuda]
    PYTHONPATH=src python benchmarks/gpu_speed.py --mocap DIR --out OUT --smoke   # tiny, any CPU, ~1 min

benchmarks/gpu.sh unpacks the packed mocap and runs this. Figures (OUT/gpu_speed.json):
- offline lifting of atcn_243f (1,024 channels, random weights with randomised batch-norm statistics):
  frames/s without and with flip averaging for poselift's Lifter in fp32 (TF32 off), tf32 and bf16, and for
  the channels-last row form; each one's max error (m) against the fp32 Lifter; the authors' model (the
  plain network in the authors' (B, C, T) layout, verified against their release in
  tests/test_reference_vectors.py) on batched windows, with torch's default flags and under bf16 autocast;
- streaming atcn_243f_causal at batch 1 with flip: p50/p99 ms per frame, CUDA-graph stream and eager;
- training `poselift train` on the mocap (batch 1,024, bf16, device batches, K targets per window) for
  --steps steps: windows/s from the step times after a warm-up (a callback reads the loss each step), and the
  model-bound ceiling (forward, backward and optimiser on device batches, no reads); weights go to OUT/train;
- the seconds one epoch's synthesis takes on the host (numpy) and on the device (torch).
Timings synchronise the device before reading the clock.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poselift.inference import Lifter
from poselift.models.registry import create_model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> float:
    """Median wall seconds of fn() over repeats, after one warm-up call."""
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def random_model(name: str, **overrides: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name, **overrides)
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model.eval()


def keypoints(frames: int, seed: int = 0) -> np.ndarray:
    """A smooth random 2D motion, normalised screen coordinates (frames, 17, 2)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / 30.0
    return (rng.normal(0, 0.3, (1, 17, 2)) + 0.05 * np.sin(2 * t + rng.uniform(0, 6, (1, 17, 2)))).astype(np.float32)


def machine(device: torch.device) -> dict[str, Any]:
    info = {"torch": torch.__version__, "python": platform.python_version(), "device": str(device),
            "cpu": platform.processor() or platform.machine()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=props.name, memory_gb=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    return info


def offline(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Lifting frames/s: poselift's precisions and forms, the authors' model, flip off and on."""
    from poselift.models.fused import ChannelsLastAttentionNet

    model = random_model(args.model, channels=args.channels).to(device)
    kp = keypoints(args.frames)
    out: dict[str, Any] = {"frames": args.frames, "batch": args.batch, "model": args.model, "channels": args.channels}
    reference = Lifter(model, flip=False, device=device, batch_size=args.batch).lift(kp)
    reference_flip = Lifter(model, flip=True, device=device, batch_size=args.batch).lift(kp)
    forms = {f"poselift_{p}": (model, p) for p in ("fp32", "tf32", "bf16")}
    forms["poselift_rows_bf16"] = (ChannelsLastAttentionNet(model).eval(), "bf16")
    for label, (net, precision) in forms.items():
        for flip in (False, True):
            lifter = Lifter(net, flip=flip, device=device, batch_size=args.batch, precision=precision)
            got = lifter.lift(kp)
            seconds = timed(lambda lifter=lifter: lifter.lift(kp), device, args.repeats)
            error = float(np.abs(got - (reference_flip if flip else reference)).max())
            out[f"{label}{'_flip' if flip else ''}"] = {"frames_per_s": args.frames / seconds, "max_error_m": error}
    # The authors' model: their layout and forward, batched windows, torch's default numeric flags.
    padded = torch.from_numpy(Lifter(model, flip=False).pad_sequence(kp)).to(device)
    windows = padded.unfold(0, model.receptive_field, 1).permute(0, 3, 1, 2)

    def authors(bf16: bool) -> np.ndarray:
        outputs = []
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            for start in range(0, windows.shape[0], args.batch):
                outputs.append(model(windows[start : start + args.batch].contiguous())[:, 0].float())
        return torch.cat(outputs).cpu().numpy()

    for label, bf16 in (("authors_fp32_default_flags", False), ("authors_bf16_autocast", True)):
        got = authors(bf16)
        seconds = timed(lambda bf16=bf16: authors(bf16), device, args.repeats)
        out[label] = {"frames_per_s": args.frames / seconds, "max_error_m": float(np.abs(got - reference).max())}
    return out


def stream(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Batch-1 causal streaming with flip: per-frame latency of the static (CUDA-graph) and the eager stream."""
    from poselift.inference import LiftStream

    model = random_model(f"{args.model}_causal", channels=args.channels).to(device)
    kp = keypoints(args.stream_frames + 30, seed=2)
    out: dict[str, Any] = {"frames": args.stream_frames}
    poses = {}
    for precision in ("fp32", "bf16"):
        lifter = Lifter(model, device=device, precision=precision)
        for label, static in (("graph", None), ("eager", False)):
            if label == "graph" and device.type != "cuda":
                continue
            stream_obj = LiftStream(lifter, static=static)
            times, got = [], []
            for i, frame in enumerate(kp):
                start = time.perf_counter()
                got.append(stream_obj.push(frame))
                if i >= 30:
                    times.append(time.perf_counter() - start)
            ms = np.array(times) * 1e3
            poses[(precision, label)] = np.array(got)
            out[f"{precision}_{label}"] = {"p50_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99))}
    base = poses[("fp32", "eager")]
    for (precision, label), got in poses.items():
        out[f"{precision}_{label}"]["max_error_m"] = float(np.abs(got - base).max())
    return out


def train_config(args: argparse.Namespace, run_dir: Path, device: torch.device):
    from poselift.training.config import load_config

    return load_config(None, [
        f"model.name={args.model}", f"model.channels={args.channels}", "model.dropout=0.1",
        "model.input_norm=frame_place", "data.kind=mocap", f"data.train={args.mocap}",
        f"data.cache_dir={args.out / 'mocap-cache'}", "data.holdout_styles=childish,youthful",
        "data.noise=detector", "data.views_per_clip=4", "data.fps=30", "data.synthesis=auto",
        f"batch_size={args.train_batch}", "epochs=1", f"max_steps={args.steps}", f"precision={args.precision}",
        f"targets_per_window={args.targets}", "device_data=auto", f"device={device.type}", "plot=false",
        "checkpoint_every_epochs=0", f"output_dir={run_dir}",
        f"max_windows_per_epoch={args.steps * args.train_batch * 2}",
    ])


def train(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """`poselift train` for --steps steps on the mocap, then the model-bound step rate on device batches."""
    from poselift.training.checkpoint import load_checkpoint
    from poselift.training.trainer import StepInfo, TrainingModule, compute_loss, create_models
    from poselift.training.trainer import train as run_training

    run_dir = args.out / "train"
    config = train_config(args, run_dir, device)
    stamps: list[float] = []

    def clock(info: StepInfo) -> None:
        stamps.append(time.perf_counter())

    started = time.perf_counter()
    result = run_training(config, resume=False, callbacks=[clock], log=lambda message: print(message, file=sys.stderr))
    total = time.perf_counter() - started
    warm = min(max(3, args.steps // 10), len(stamps) - 2)
    rate = (len(stamps) - 1 - warm) * args.train_batch / (stamps[-1] - stamps[warm])
    out: dict[str, Any] = {"steps": result.step, "batch": args.train_batch, "precision": args.precision,
                           "targets_per_window": args.targets, "poselift_train_windows_per_s": rate,
                           "wall_s_including_setup": total, "first_step_s": stamps[0] - started}
    pose, _ = create_models(config)
    state = load_checkpoint(run_dir / "last.pt")["model"]
    pose.load_state_dict({key[5:]: value for key, value in state.items() if key.startswith("pose.")})
    from poselift.models.weights import save_weights

    save_weights(pose, run_dir / f"steps-{result.step}.safetensors",
                 {"training_data": "bandai-namco (benchmark run)", "steps": result.step, "joint_layout": "h36m17",
                  "fps": 30.0, "train_config": config.to_dict()})
    # The ceiling: the same module and optimiser on batches already on the device, no reads of the loss.
    from poselift.data.sequences import PoseSequence
    from poselift.training.optim import build_optimizer
    from poselift.training.windows import DeviceWindowSampler, WindowSampler

    rng = np.random.default_rng(0)
    frames = 4000
    data = [PoseSequence(keypoints(frames, seed=i), rng.normal(0, 0.3, (frames, 17, 3)).astype(np.float32))
            for i in range(4)]
    module = TrainingModule(*create_models(config), fast=True, targets=args.targets).to(device).train()
    optimizer = build_optimizer(module.parameters(), config.optim)
    sampler = DeviceWindowSampler(WindowSampler(data, module.pose.receptive_field, module.pose.causal), device)
    runs = max(2, args.train_batch // args.targets)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")

    def step() -> None:
        indices = torch.randint(0, 4 * frames - args.targets, (runs,), device=device)
        windows, targets, root = sampler.gather(indices, None, args.targets)
        with autocast:
            pose_out, _ = module(windows)
        loss, _ = compute_loss(config, pose_out, targets, log_terms=False)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    count = max(5, args.steps // 3)
    seconds = timed(lambda: [step() for _ in range(count)], device, 1)
    out["step_only_windows_per_s"] = count * runs * args.targets / seconds
    return out


def synthesis(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Seconds to synthesise one training epoch's views on the host and on the device."""
    from poselift.training.data import build_sequences

    config = train_config(args, args.out / "train", device)
    out = {}
    for place in ("host", "device"):
        data = type(config.data)(**{**config.data.__dict__, "synthesis": place})
        build_sequences(data, "train", 0, 0, str(device))  # the BVH files are read and cached once
        start = time.perf_counter()
        sequences = build_sequences(data, "train", 1, 0, str(device))
        sync(device)
        out[f"{place}_s"] = time.perf_counter() - start
        out["frames"] = int(sum(s.num_frames for s in sequences))
    return out


SECTIONS: dict[str, Callable[[argparse.Namespace, torch.device], dict[str, Any]]] = {
    "offline": offline, "stream": stream, "synthesis": synthesis, "train": train,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mocap", type=Path, required=True, help="the bandai-namco folder (BVH files)")
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_speed.json and the weights")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    parser.add_argument("--targets", type=int, default=1, help="targets_per_window of the training run")
    parser.add_argument("--precision", default="bf16", choices=("fp32", "bf16"), help="training precision")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--smoke", action="store_true", help="tiny settings that run anywhere in about a minute")
    args = parser.parse_args(argv)
    big = dict(model="atcn_243f", channels=1024, frames=200_000, batch=8192, repeats=3, stream_frames=1000,
               train_batch=1024)
    small = dict(model="atcn_27f", channels=32, frames=3000, batch=512, repeats=1, stream_frames=40, train_batch=64)
    for key, value in (small if args.smoke else big).items():
        setattr(args, key, value)
    if args.smoke:
        args.steps = min(args.steps, 6)
        args.mocap = args.mocap / "**" / "dataset-1_bow_*.bvh"  # a dozen clips, two held-out styles among them
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    results: dict[str, Any] = {"machine": machine(device), "smoke": args.smoke, "sections": {}}
    path = args.out / "gpu_speed.json"
    for name in args.only.split(","):
        start = time.perf_counter()
        print(f"gpu_speed: {name} ...", file=sys.stderr, flush=True)
        results["sections"][name] = SECTIONS[name](args, device)
        results["sections"][name]["section_s"] = round(time.perf_counter() - start, 1)
        path.write_text(json.dumps(results, indent=1) + "\n")  # after each section: a cut-off run keeps the rest
    print(json.dumps(results["sections"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
