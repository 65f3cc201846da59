"""`poselift demo`: the whole video pipeline on a clip it makes itself, scored against its own truth."""

from __future__ import annotations

import argparse

HELP = "run the video pipeline on a synthetic walking clip (no download) and score it against ground truth"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", dest="out_dir", default="poselift-demo", metavar="OUTDIR",
                        help="output folder")
    parser.add_argument("--model", default=None, metavar="NAME_OR_FILE",
                        help="model name or weights file (otherwise the default model)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the synthetic clip")
    parser.add_argument("--noise", type=float, default=1.0, metavar="PX",
                        help="standard deviation of the 2D keypoint noise, pixels")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    import numpy as np

    from poselift.atomic import save_npz_atomic, write_text_atomic
    from poselift.body_size import stature
    from poselift.video.pipeline import process_video
    from poselift.video.synthetic import synthesize_walk, write_stick_video

    start = time.perf_counter()
    out = Path(args.out_dir)
    inputs = out / "input"
    inputs.mkdir(parents=True, exist_ok=True)
    clip = synthesize_walk(seconds=args.seconds)
    video = inputs / "walk.mp4"
    write_stick_video(video, clip)
    rng = np.random.default_rng(0)
    keypoints = clip.keypoints_2d + rng.normal(0.0, args.noise, clip.keypoints_2d.shape)
    keypoint_file = inputs / "walk_keypoints.npz"
    save_npz_atomic(keypoint_file, keypoints_2d=keypoints.astype(np.float32),
                    confidence=np.ones(keypoints.shape[:2], dtype=np.float32),
                    image_size=np.array([clip.width, clip.height]), fps=np.float64(clip.fps))
    save_npz_atomic(inputs / "ground_truth.npz", poses_camera=clip.poses_camera, poses_world=clip.poses_world,
                    keypoints_2d=clip.keypoints_2d, times=clip.times, focal=np.float64(clip.focal),
                    camera_rotation=clip.camera_rotation, camera_position=clip.camera_position)
    print(f"demo input: {video} ({len(clip.times)} frames), 2D keypoints {keypoint_file}")

    # The walker's height is known here, as a user often knows theirs (`poselift video --height`).
    height = stature(clip.poses_world)
    print(f"the walker is {height:.2f} m tall (nominal stature); poselift is told so")
    result = process_video(video, out, keypoints=keypoint_file, focal=clip.focal, model=args.model,
                           progress=not args.quiet, person_height=height)
    print(result.summary())
    scores = score(result, clip)
    scores["seconds"] = round(time.perf_counter() - start, 2)
    write_text_atomic(out / "demo_scores.json", json.dumps(scores, indent=2))
    print("scores against the synthetic ground truth (mm): "
          + ", ".join(f"{k} {v * 1000:.1f}" for k, v in scores.items() if isinstance(v, float) and k != "seconds"))
    print(f"demo done in {scores['seconds']:.1f} s; open {out / 'viewer.html'} in a browser, "
          f"watch {out / 'render.mp4'}")
    return 0


def score(result, clip) -> dict:
    """MPJPE (and P-MPJPE when poselift.metrics exists) of the 3D result, root and floor errors, metres."""
    import numpy as np

    truth = clip.poses_camera - clip.poses_camera[:, :1]
    predicted = result.person.poses_3d
    scores: dict = {}
    try:
        from poselift.metrics import mpjpe, p_mpjpe

        scores["mpjpe"] = float(mpjpe(predicted, truth))
        scores["p_mpjpe"] = float(p_mpjpe(predicted, truth))
    except ImportError:
        scores["mpjpe"] = float(np.linalg.norm(predicted - truth, axis=-1).mean())
    scores["root_position_error"] = float(np.linalg.norm(result.person.trajectory - clip.poses_camera[:, 0],
                                                          axis=-1).mean())
    heights = result.person.poses_world[..., 1]
    scores["height_error"] = float(np.abs(heights - clip.poses_world[..., 1]).mean())
    return scores
