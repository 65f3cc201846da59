"""Video accuracy: people rendered from motion capture (poselift.scenes), run through `process_video` with the
built-in detector as `poselift video` runs it (the true focal length given), scored against the 3D truth
beside MediaPipe's own 3D on the same frames. Prints a table, writes JSON (and optionally Markdown and a plot).

    python benchmarks/video_accuracy.py --set test --json benchmarks/results/video_accuracy_test.json \
        --markdown benchmarks/results/video_accuracy_test.md --plot docs/video-accuracy.png
    python benchmarks/video_accuracy.py --bvh my_clip.bvh --views 3 --seconds 6 --json out.json

`--set` picks a fixed motion set under ../shared/data/mocap (`validation` for choices, `test` for reports);
`--bvh` takes any BVH files instead. Needs `pip install ".[detect]"`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MOCAP = REPO.parent / "shared" / "data" / "mocap"
ROWS = (
    ("P-MPJPE (mm)", "p_mpjpe_mm"), ("MPJPE, root-aligned (mm)", "mpjpe_mm"), ("N-MPJPE (mm)", "n_mpjpe_mm"),
    ("acceleration error (mm/frame^2)", "accel_error_mm"), ("body size (x true)", "size_ratio"),
    ("torso lean error (deg, + = leans more)", "lean_error_deg"),
    ("torso lean, mean abs (deg)", "lean_abs_error_deg"),
    ("root position error (m)", "root_error_m"), ("root position error (% of distance)", "root_error_pct"),
    ("foot skating in contact (m/s)", "foot_skate_m_s"),
    ("floor penetration in contact (mm)", "floor_penetration_mm"),
    ("recall", "recall"), ("false pose rate", "false_pose_rate"),
    ("poses on partly seen people (rate)", "partly_seen_pose_rate"),
    ("id switches / 1000 person-frames", "id_switches_per_1000"), ("tracks per true person", "tracks_per_person"),
)


def markdown(report: dict) -> str:
    """Summary, per-clip and per-joint tables of a video_accuracy report."""
    s = report["summary"]
    fmt = lambda v: "-" if v is None else (f"{v:.3f}" if isinstance(v, float) and abs(v) < 10 else str(v))  # noqa: E731
    lines = ["| | poselift | MediaPipe's own 3D |", "| --- | --- | --- |"]
    lines += [f"| {label} | {fmt(s['poselift'][key])} | {fmt(s['mediapipe'][key])} |" for label, key in ROWS]
    lines += ["", "| clip | view | camera (height, distance, tilt, fov) | framing | poselift P-MPJPE / MPJPE | "
              "MediaPipe P-MPJPE / MPJPE | poselift recall |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in report["clips"]:
        m = c["scene"]
        lines.append(f"| {c['clip']} | {c['view']} | {m['camera_height_m']:.2f} m, {m['camera_distance_m']:.1f} m, "
                     f"{m['camera_tilt_deg']:.0f} deg, {m['hfov_deg']:.0f} deg | {m['framing']} | "
                     f"{fmt(c['poselift']['p_mpjpe_mm'])} / {fmt(c['poselift']['mpjpe_mm'])} | "
                     f"{fmt(c['mediapipe']['p_mpjpe_mm'])} / {fmt(c['mediapipe']['mpjpe_mm'])} | "
                     f"{fmt(c['poselift']['recall'])} |")
    pj, mj = s["poselift"]["per_joint_mm"] or {}, s["mediapipe"]["per_joint_mm"] or {}
    off = report.get("detector_offsets_mm", {})
    lines += ["", "| joint | poselift MPJPE (mm) | MediaPipe MPJPE (mm) | BlazePose 2D - truth: outward / up (mm) |",
              "| --- | --- | --- | --- |"]
    for name in pj:
        o = off.get(name, {})
        offset = f"{o.get('outward_mm', '-')} / {o.get('up_mm', '-')}"
        lines.append(f"| {name} | {pj[name]} | {mj.get(name, '-')} | {offset} |")
    st = report["settings"]
    lines += ["", f"{len(st['files'])} clips x {st['views']} views x {st['seconds']} s, {st['people']} person(s) a "
              f"scene, seed {st['seed']}, model {st['model']}; {report['seconds']:.0f} s in all."]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    """Error by joint (both methods) and P-MPJPE by camera tilt and distance, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    s = report["summary"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    names = list(s["poselift"]["per_joint_mm"])
    x = np.arange(len(names))
    axes[0].bar(x - 0.2, [s["poselift"]["per_joint_mm"][n] for n in names], 0.4, label="poselift")
    axes[0].bar(x + 0.2, [s["mediapipe"]["per_joint_mm"][n] for n in names], 0.4, label="MediaPipe 3D")
    axes[0].set_xticks(x, names, rotation=70, fontsize=7)
    axes[0].set_ylabel("MPJPE, root-aligned (mm)")
    axes[0].legend()
    for ax, key, label in ((axes[1], "camera_tilt_deg", "camera tilt (deg)"),
                           (axes[2], "camera_distance_m", "camera distance (m)")):
        for method, marker in (("poselift", "o"), ("mediapipe", "x")):
            pts = [(c["scene"][key], c[method]["p_mpjpe_mm"]) for c in report["clips"] if c[method]["p_mpjpe_mm"]]
            if pts:
                ax.scatter(*zip(*pts, strict=True), marker=marker, label=method)
        ax.set_xlabel(label)
        ax.set_ylabel("P-MPJPE (mm)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _height(text: str) -> float | str | None:
    """--height's value for video_accuracy(person_height=...)."""
    from poselift.body_size import ADULT_HEIGHT

    return {"true": "true", "adult": ADULT_HEIGHT, "model": None}.get(text) or float(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bvh", nargs="+", type=Path, help="BVH files (default: the --set under ../shared)")
    parser.add_argument("--set", dest="set_name", choices=("validation", "test"), default="test")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--views", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--people", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--height", default="adult", metavar="METRES|true|adult|model",
                        help="the height the chain is told: metres (as `poselift video --height`), each person's "
                             "true one, an adult's (the default, as `poselift video`) or the model's own size")
    parser.add_argument("--keep", type=Path, help="keep the rendered videos, truth and outputs in this folder")
    args = parser.parse_args(argv)

    from poselift.atomic import write_text_atomic
    from poselift.scenes.benchmark import benchmark_files, video_accuracy

    files = args.bvh or benchmark_files(args.set_name, MOCAP)
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        print(f"video_accuracy: error: missing BVH files: {missing[:3]}", file=sys.stderr)
        return 2
    report = video_accuracy(files, views=args.views, seconds=args.seconds, people=args.people, seed=args.seed,
                            model=args.model, work_dir=args.keep, progress=True,
                            person_height=_height(args.height))
    report["settings"]["set"] = None if args.bvh else args.set_name
    text = markdown(report)
    print(text)
    write_text_atomic(args.json, json.dumps(report, indent=1))
    if args.markdown:
        write_text_atomic(args.markdown, text)
    if args.plot:
        plot(report, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
