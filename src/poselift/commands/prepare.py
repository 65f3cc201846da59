"""`poselift prepare`: build the community dataset files from the original Human3.6M release."""

from __future__ import annotations

import argparse
import sys

HELP = "prepare dataset files (Human3.6M 3D poses from the release's CDF files; ground-truth 2D)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    h36m = sub.add_parser(
        "h36m",
        help="S*/MyPoseFeatures/D3_Positions/*.cdf -> data_3d_h36m.npz (world metres, 32 joints)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    h36m.add_argument("--from", dest="source", required=True, metavar="D3_POSITIONS_ROOT",
                      help="folder holding S1, S5, ... each with MyPoseFeatures/D3_Positions/*.cdf")
    h36m.add_argument("--out", required=True, help="output .npz (VideoPose3D's data_3d_h36m.npz layout)")
    h36m.add_argument("--subjects", default="S1,S5,S6,S7,S8,S9,S11", help="comma-separated subjects to convert")
    h36m.add_argument("--keep-s11-directions", action="store_true",
                      help="keep S11 'Directions' (dropped by VideoPose3D: camera 54138969's video is corrupt)")
    gt = sub.add_parser(
        "h36m-2d-gt",
        help="data_3d_h36m.npz -> data_2d_h36m_gt.npz: 17 joints projected into the 4 cameras (pixels)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    gt.add_argument("--data-3d", required=True, help="data_3d_h36m.npz")
    gt.add_argument("--out", required=True, help="output .npz (VideoPose3D's data_2d_h36m_gt.npz layout)")


def run(args: argparse.Namespace) -> int:
    from poselift.data import h36m

    if args.target == "h36m":
        subjects = [s.strip() for s in args.subjects.split(",") if s.strip()]
        positions = h36m.convert_d3_positions(args.source, subjects, keep_missing=args.keep_s11_directions)
        h36m.save_positions_3d(args.out, positions)
        for subject, actions in positions.items():
            frames = sum(len(p) for p in actions.values())
            full = 29 if subject == "S11" and not args.keep_s11_directions else 30
            note = "" if len(actions) == full else f" (the full release has {full})"
            print(f"{subject}: {len(actions)} actions{note}, {frames} frames", file=sys.stderr)
        missing = [s for s in subjects if s not in positions]
        if missing:
            print(f"no CDF files for {', '.join(missing)}", file=sys.stderr)
        print(f"wrote {args.out}", file=sys.stderr)
        return 0
    if args.target == "h36m-2d-gt":
        from poselift.camera import load_h36m_cameras

        positions = h36m.load_positions_3d(args.data_3d)
        keypoints = h36m.synthesise_2d(positions, load_h36m_cameras())
        h36m.save_positions_2d(args.out, keypoints, h36m.H36M17_METADATA)
        count = sum(len(a) for a in keypoints.values())
        print(f"wrote {args.out}: {len(keypoints)} subjects, {count} actions x 4 cameras", file=sys.stderr)
        return 0
    raise AssertionError(args.target)
