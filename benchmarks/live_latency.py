"""Live latency benchmark: per-frame time of each stage of `poselift live`, median and 99th percentile.

Runs the real live loop (poselift.live.run_live) on synthetic 2D keypoints (a slowly moving person) with
the causal models (random weights: the time depends only on the architecture), flip averaging on and off,
one torch thread, sending every pose over VMC (UDP to a local socket) and WebSocket (one local client
reading). With --video and the 2D detector installed (pip install "poselift[detect]") it also times
2D detection on that video's frames. Prints a table and writes JSON.

    python benchmarks/live_latency.py --frames 300 --json benchmarks/results/live_latency.json

--load N keeps N other processes spinning (a busy machine: another core loaded), the condition in which
two torch threads showed 130-180 ms stalls and one thread stayed steady; --threads compares.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODELS = ("atcn_27f_causal", "atcn_81f_causal", "atcn_243f_causal")


def synthetic_keypoints(frames: int, fps: float):
    """A person-shaped set of 17 normalised keypoints swaying: Frame2D items with zero detection time."""
    from poselift.live import Frame2D

    rng = np.random.default_rng(0)
    base = rng.uniform(-0.4, 0.4, size=(17, 2))
    for t in range(frames):
        yield Frame2D(base + 0.05 * np.sin(t / 10.0 + np.arange(17))[:, None], t / fps, 0.0)


def detection_times(video: str, frames: int) -> list[float]:
    """Seconds per frame of the built-in 2D detector on the first frames of a video."""
    from poselift.live import video_keypoints

    times = []
    for item in video_keypoints(video):
        times.append(item.detect_seconds)
        if len(times) >= frames:
            break
    return times


def _spin(stop) -> None:
    """Keep one core busy until `stop` is set."""
    x = 0
    while not stop.is_set():
        x = (x * 1103515245 + 12345) % 2**31


def start_load(processes: int):
    """Start `processes` busy processes; returns (stop event, processes)."""
    import multiprocessing

    stop = multiprocessing.Event()
    workers = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(processes)]
    for worker in workers:
        worker.start()
    return stop, workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--load", type=int, default=0, metavar="N",
                        help="keep N other processes spinning during the measurement (a busy machine)")
    parser.add_argument("--video", default=None, help="a video to time 2D detection on (needs the detector)")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "live_latency.json")
    args = parser.parse_args()

    import torch

    from poselift.export.filters import OneEuroFilter
    from poselift.export.vmc import VmcSender
    from poselift.export.websocket import PoseServer
    from poselift.inference import Lifter
    from poselift.live import run_live
    from poselift.models.registry import create_model

    torch.set_num_threads(args.threads)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(0.2)
    stop = threading.Event()

    def drain():
        while not stop.is_set():
            try:
                sink.recvfrom(65536)
            except OSError:
                pass

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    load_stop, load_workers = start_load(args.load)
    rows = []
    with PoseServer("127.0.0.1", 0) as server, VmcSender("127.0.0.1", sink.getsockname()[1]) as vmc:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        client = connect(f"ws://127.0.0.1:{server.address[1]}/")

        def read():
            try:
                while True:
                    client.recv()
            except ConnectionClosed:
                pass

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        for name in args.models:
            model = create_model(name)
            for flip in (False, True):
                lifter = Lifter(model, flip=flip)
                stream = lifter.stream()
                warm = run_live(synthetic_keypoints(20, 30.0), stream.push)  # warm-up, not counted
                del warm
                result = run_live(synthetic_keypoints(args.frames, 30.0), stream.push, vmc=vmc, ws=server,
                                  smooth=OneEuroFilter(freq=30.0))
                summary = result.latency.summary()
                rows.append({"model": name, "receptive_field": lifter.receptive_field, "flip": flip,
                             "parameters": int(sum(p.numel() for p in model.parameters())),
                             **{f"{stage}_{k}": v[k] for stage, v in summary.items() if stage != "detect"
                                for k in ("median_ms", "p99_ms")}})
        client.close()
    load_stop.set()
    for worker in load_workers:
        worker.join(timeout=5)
    stop.set()
    sink.close()

    detect = None
    if args.video:
        from poselift.video.detector import detector_available

        if detector_available():
            times = np.array(detection_times(args.video, args.frames))
            detect = {"video": args.video, "frames": int(len(times)), "median_ms": float(np.median(times) * 1e3),
                      "p99_ms": float(np.percentile(times, 99) * 1e3)}
        else:
            print("2D detector not installed: detection not timed")

    header = (f"{'model':<18} {'flip':<5} {'lift med':>9} {'lift p99':>9} {'send med':>9} {'send p99':>9} "
              f"{'total med':>10} {'total p99':>10}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:<18} {str(r['flip']):<5} {r['lift_median_ms']:>7.2f}ms {r['lift_p99_ms']:>7.2f}ms "
              f"{r['send_median_ms']:>7.2f}ms {r['send_p99_ms']:>7.2f}ms {r['total_median_ms']:>8.2f}ms "
              f"{r['total_p99_ms']:>8.2f}ms")
    if detect:
        print(f"2D detection ({detect['frames']} frames of {detect['video']}): median {detect['median_ms']:.1f} ms, "
              f"p99 {detect['p99_ms']:.1f} ms")
    print(f"{args.frames} frames each, {args.threads} torch thread(s), {args.load} busy process(es) beside; "
          "lift includes the One-Euro filter, send "
          "includes the rig (rotations) and VMC + WebSocket sending")
    from poselift.atomic import write_text_atomic

    write_text_atomic(args.json, json.dumps({
        "frames": args.frames, "threads": args.threads, "load": args.load, "machine": platform.platform(),
        "processor": platform.processor(), "cpus": __import__("os").cpu_count(), "rows": rows, "detection": detect,
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
