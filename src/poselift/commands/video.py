"""`poselift video`: a video (or a 2D keypoint file) in, 3D poses, a rendered video and a viewer out."""

from __future__ import annotations

import argparse

from poselift.commands import FPS, ranged

HELP = "lift the people in a video to 3D: poses_3d.npz/json, keypoints_2d.npz, render.mp4, viewer.html"


def _size(text: str) -> tuple[int, int]:
    from poselift.keypoints_io import MAX_IMAGE_SIDE

    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, found {text!r}") from None
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in 1..{MAX_IMAGE_SIDE} pixels, found {text!r}")
    return width, height


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="video file (mp4, mkv, mov, webm, gif, ...) or a 2D keypoint file/folder")
    parser.add_argument("-o", "--out", dest="out_dir", required=True, metavar="OUTDIR", help="output folder")
    parser.add_argument("--keypoints", metavar="FILE", default=None,
                        help="2D keypoints for the video (instead of the built-in detector)")
    parser.add_argument("--format", default="auto", choices=("auto", "coco", "openpose", "alphapose", "vp3d", "npz"),
                        help="format of --keypoints")
    parser.add_argument("--layout", default=None,
                        help="joint layout of the keypoints when the count is ambiguous (coco17, halpe26, body25, "
                             "openpose_coco18, mediapipe33, h36m17)")
    parser.add_argument("--person", type=ranged(int, minimum=0), default=None, metavar="ID",
                        help="track id of the one person to lift (otherwise everyone who looks like a person)")
    parser.add_argument("--all-people", action="store_true",
                        help="lift every person (the default; kept for older scripts)")
    parser.add_argument("--main-only", action="store_true",
                        help="lift only the main person (the largest x longest track)")
    parser.add_argument("--min-person-seconds", type=ranged(float, minimum=0, maximum=3600), default=None,
                        metavar="S", help="a track seen for less than this is not a person (default 1.0 s)")
    parser.add_argument("--detector", choices=("multi", "single"), default="multi",
                        help="built-in detector: every person per frame (multi) or BlazePose's one (single)")
    parser.add_argument("--focal", type=ranged(float, above=0, maximum=1e6), default=None, metavar="PX",
                        help="focal length in pixels (otherwise from a 60 degree horizontal field of view)")
    parser.add_argument("--model", default=None, metavar="NAME_OR_FILE",
                        help="model name or weights file (otherwise the default model)")
    parser.add_argument("--max-gap", type=ranged(int, minimum=0, maximum=100_000), default=10, metavar="FRAMES",
                        help="longest gap (frames) filled by interpolation")
    parser.add_argument("--min-confidence", type=ranged(float, minimum=0, maximum=1), default=0.3,
                        help="keypoints below this confidence count as missing")
    parser.add_argument("--interpolation", choices=("linear", "cubic"), default="linear")
    parser.add_argument("--image-size", type=_size, default=None, metavar="WxH",
                        help="image size for keypoint files without a video")
    parser.add_argument("--fps", type=FPS, default=None, help="frame rate for keypoint files without a video")
    parser.add_argument("--no-render", action="store_true", help="skip render.mp4")
    parser.add_argument("--no-viewer", action="store_true", help="skip viewer.html")
    parser.add_argument("--bvh", nargs="?", const="humanoid", choices=("humanoid", "h36m"), default=None,
                        help="also write person_<id>.bvh per person and animation.bvh (the main person) "
                             "(joint naming: humanoid rig or the 17 Human3.6M names)")
    parser.add_argument("--height", type=ranged(float, above=0), default=None, metavar="METRES",
                        help="the people's height: scales the 3D skeleton (and its distance) to it (default: an "
                             "adult's, 1.70 m)")
    parser.add_argument("--model-size", action="store_true",
                        help="keep the size the model learnt (its training actors', about 1.55 m) instead")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import warnings

    from poselift.video.pipeline import process_video
    from poselift.video.plausibility import MIN_PERSON_SECONDS

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        result = process_video(
            args.input, args.out_dir, keypoints=args.keypoints, format=args.format, layout=args.layout,
            person=args.person, all_people=not args.main_only, focal=args.focal, model=args.model,
            render=not args.no_render, viewer=not args.no_viewer, max_gap=args.max_gap,
            min_confidence=args.min_confidence, interpolation=args.interpolation, image_size=args.image_size,
            fps=args.fps, progress=not args.quiet, bvh=args.bvh, person_height=_height(args),
            detector=args.detector,
            min_person_seconds=MIN_PERSON_SECONDS if args.min_person_seconds is None else args.min_person_seconds,
        )
    print(result.summary())
    return 0


def _height(args: argparse.Namespace) -> float | None:
    """The height to give people: the one told, else an adult's, or None (the model's own size)."""
    from poselift.body_size import ADULT_HEIGHT

    if args.model_size:
        return None
    return args.height if args.height is not None else ADULT_HEIGHT
