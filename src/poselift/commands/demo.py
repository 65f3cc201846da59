"""`poselift demo`: the real video chain on a person it renders itself, scored against the 3D truth."""

from __future__ import annotations

import argparse

from poselift.commands import ranged

HELP = ("render a walking person (built-in body and motion, no download), run the 2D detector, lift to 3D and "
        "score poselift and MediaPipe's own 3D against the truth")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", dest="out_dir", default="poselift-demo", metavar="OUTDIR",
                        help="output folder")
    parser.add_argument("--model", default=None, metavar="NAME_OR_FILE",
                        help="model name or weights file (otherwise the default model)")
    parser.add_argument("--seconds", type=ranged(float, minimum=0.5, maximum=60), default=5.0,
                        help="length of the rendered clip, seconds")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    from poselift.atomic import write_text_atomic
    from poselift.scenes.demo import demo_scene, score_demo
    from poselift.scenes.scene import render_scene
    from poselift.video.pipeline import process_video

    start = time.perf_counter()
    out = Path(args.out_dir)
    inputs = out / "input"
    inputs.mkdir(parents=True, exist_ok=True)
    scene = demo_scene(args.seconds)
    video = inputs / "walk.mp4"
    truth = render_scene(scene, video, inputs / "ground_truth.npz")
    print(f"demo input: {video} ({len(truth.times)} frames, a {truth.heights[0]:.2f} m person rendered at "
          f"{truth.meta['render_fps']:.0f} frames/s), its 3D truth {inputs / 'ground_truth.npz'}")
    result = process_video(video, out, focal=float(scene.camera.focal[0]), model=args.model,
                           progress=not args.quiet)
    print(result.summary())
    scores = score_demo(result, truth, scene)
    scores["seconds"] = round(time.perf_counter() - start, 1)
    write_text_atomic(out / "demo_scores.json", json.dumps(scores, indent=2))
    print("\nagainst the 3D truth (mm unless said):")
    print(f"{'':34s} {'poselift':>10s} {'MediaPipe 3D':>13s}")
    for label, key in (("P-MPJPE", "p_mpjpe_mm"), ("MPJPE, root-aligned", "mpjpe_mm"), ("N-MPJPE", "n_mpjpe_mm"),
                       ("acceleration error (mm/frame^2)", "accel_error_mm"), ("body size (x true)", "size_ratio"),
                       ("root position error (m)", "root_error_m"), ("frames with a pose", "recall")):
        values = [scores[m].get(key) for m in ("poselift", "mediapipe")]
        print(f"{label:34s} " + " ".join(f"{'-' if v is None else f'{v:.3g}':>{w}s}"
                                         for v, w in zip(values, (10, 13), strict=True)))
    print(f"\ndemo done in {scores['seconds']:.0f} s; open {out / 'viewer.html'} in a browser, watch "
          f"{out / 'render.mp4'}. No height was given, so poselift gave the person an adult's, 1.70 m "
          "(pass --height to `poselift video` when you know it).")
    return 0
