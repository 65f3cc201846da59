"""One-Euro filter benchmark: jitter reduction and lag on noisy 3D motion, for a few parameter settings.

The clean signal is real motion capture (a Bandai-Namco walk and a dance, mapped to the 17 joints, 30 fps)
when ../shared is there, else a synthetic sum of sinusoids; white noise of a given size is added to every
joint in every frame (a stand-in for frame-to-frame lifting noise). Per setting:
  - jitter: RMS of the second difference (acceleration, mm per frame^2), and its reduction against the noisy input,
  - error: RMS distance to the clean motion (mm),
  - lag: the delay (frames, sub-frame by parabola) that best aligns the filtered motion with the clean one.
Prints a table and writes JSON.

    python benchmarks/live_filter.py --json benchmarks/results/live_filter.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MOCAP = REPO.parent / "shared" / "data" / "mocap" / "bandai-namco" / "dataset-1"

SETTINGS = [
    ("raw (no filter)", None),
    ("min_cutoff=1, beta=0", (1.0, 0.0)),
    ("min_cutoff=1, beta=1", (1.0, 1.0)),
    ("min_cutoff=1, beta=3 (default)", (1.0, 3.0)),
    ("min_cutoff=0.5, beta=3", (0.5, 3.0)),
    ("min_cutoff=2, beta=3", (2.0, 3.0)),
    ("min_cutoff=1, beta=10", (1.0, 10.0)),
]


def clean_signals(fps: float) -> dict[str, np.ndarray]:
    """Clean motions (T, 17, 3) metres, root-relative."""
    signals = {}
    if MOCAP.is_dir():
        from poselift.data.mocap import load_mocap

        for pattern in ("*walk_normal_001.bvh", "*dance-short_normal_001.bvh"):
            found = sorted(MOCAP.glob(pattern))
            if found:
                clip = load_mocap(found[0])[0]
                joints = clip.joints_3d.astype(np.float64)[:900]
                signals[found[0].stem.split("_")[1]] = joints - joints[:, :1]
    if not signals:
        rng = np.random.default_rng(0)
        t = np.arange(600)[:, None, None] / fps
        freq, phase = rng.uniform(0.3, 2.0, (1, 17, 3)), rng.uniform(0, 6.3, (1, 17, 3))
        signals["synthetic"] = 0.2 * np.sin(2 * np.pi * freq * t + phase)
    return signals


def lag_frames(filtered: np.ndarray, clean: np.ndarray, max_lag: int = 15) -> float:
    """The delay d (frames) minimising the error between filtered[t] and clean[t - d], refined by a parabola."""
    errors = np.array([np.mean((filtered[max_lag + 0:] - clean[max_lag - d: len(clean) - d]) ** 2)
                       for d in range(max_lag + 1)])
    d = int(np.argmin(errors))
    if 0 < d < max_lag:
        a, b, c = errors[d - 1], errors[d], errors[d + 1]
        denominator = a - 2 * b + c
        if denominator > 0:
            return d + 0.5 * (a - c) / denominator
    return float(d)


def jitter_mm(values: np.ndarray) -> float:
    """RMS of the second difference, millimetres per frame^2."""
    return float(np.sqrt(np.mean(np.diff(values, 2, axis=0) ** 2)) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--noise", type=float, nargs="+", default=[0.005, 0.01, 0.02], help="noise sigma, metres")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "live_filter.json")
    args = parser.parse_args()

    from poselift.export.filters import filter_sequence

    rng = np.random.default_rng(1)
    rows = []
    for name, clean in clean_signals(args.fps).items():
        clean_jitter = jitter_mm(clean)
        for sigma in args.noise:
            noisy = clean + rng.normal(scale=sigma, size=clean.shape)
            raw_jitter = jitter_mm(noisy)
            for label, params in SETTINGS:
                out = noisy if params is None else filter_sequence(noisy, args.fps, params[0], params[1])
                jitter = jitter_mm(out)
                rows.append({
                    "signal": name, "noise_mm": sigma * 1e3, "setting": label,
                    "min_cutoff": None if params is None else params[0], "beta": None if params is None else params[1],
                    "jitter_mm": jitter, "clean_jitter_mm": clean_jitter,
                    "jitter_reduction_pct": 100.0 * (1.0 - jitter / raw_jitter),
                    "rmse_mm": float(np.sqrt(np.mean(np.sum((out - clean) ** 2, axis=-1))) * 1e3),
                    "lag_frames": lag_frames(out, clean),
                })
    header = f"{'signal':<12} {'noise':>6} {'setting':<34} {'jitter':>8} {'reduction':>9} {'RMSE':>7} {'lag':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['signal']:<12} {r['noise_mm']:>4.0f}mm {r['setting']:<34} {r['jitter_mm']:>6.2f}mm "
              f"{r['jitter_reduction_pct']:>8.1f}% {r['rmse_mm']:>5.1f}mm {r['lag_frames']:>5.2f}f")
    print("jitter: RMS second difference (mm/frame^2); lag in frames at "
          f"{args.fps:g} fps; clean motion's own jitter: "
          + ", ".join(f"{n} {jitter_mm(c):.2f}mm" for n, c in clean_signals(args.fps).items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    from poselift.atomic import write_text_atomic

    write_text_atomic(args.json, json.dumps({"fps": args.fps, "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
