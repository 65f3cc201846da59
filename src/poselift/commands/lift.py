"""`poselift lift`: 2D keypoints (.npz) in, 3D poses (.npz) out."""

from __future__ import annotations

import argparse

from poselift.commands import BATCH_SIZE, ROLL_DEGREES, ranged

HELP = "lift a 2D keypoint sequence (.npz with keypoints_2d (T, 17, 2), or a bare .npy of it) to 3D poses"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("keypoints", help="npz with keypoints_2d (T, J, 2), pixels if image_size (w, h) is "
                                          "present; or an .npy (T, J, 2) of normalised screen coordinates")
    parser.add_argument("--model", default=None, help="shipped model name or weights file (default: the default model)")
    parser.add_argument("--out", "-o", required=True, help="output .npz with poses_3d (T, J, 3)")
    parser.add_argument("--no-flip", action="store_true", help="skip flip averaging")
    parser.add_argument("--roll-tta", type=ROLL_DEGREES, default=0.0, metavar="DEGREES",
                        help="also lift the 2D turned by +-DEGREES about the image centre and average (3x the time)")
    parser.add_argument("--batch-size", type=BATCH_SIZE, default=1024, help="windows per forward pass")
    parser.add_argument("--height", type=ranged(float, above=0), default=None, metavar="METRES",
                        help="the person's height: scale the poses to it (otherwise the size the model learnt)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from poselift.atomic import save_npz_atomic
    from poselift.body_size import check_height, scale_to_height
    from poselift.errors import InputError
    from poselift.inference import Lifter
    from poselift.keypoints_io import read_keypoints_npz

    if args.height is not None:
        check_height(args.height)
    if Path(args.out).is_dir():
        raise InputError(args.out, "is a folder: --out names the .npz file to write")
    keypoints, image_size = read_keypoints_npz(args.keypoints)
    lifter = Lifter(args.model, flip=not args.no_flip, batch_size=args.batch_size, roll_tta=args.roll_tta)
    if image_size is not None:
        from poselift.camera import normalize_screen_coordinates
        from poselift.inference import validate_keypoints

        keypoints = normalize_screen_coordinates(
            validate_keypoints(keypoints, lifter.num_joints, args.keypoints), *image_size
        )
    poses = lifter.lift(keypoints, source=args.keypoints)
    if args.height is not None:
        poses = scale_to_height(poses, args.height)
    save_npz_atomic(args.out, poses_3d=poses.astype("float32"), receptive_field=lifter.receptive_field,
                    causal=lifter.causal, flip=lifter.flip)
    print(f"{args.out}: {poses.shape[0]} poses of {poses.shape[1]} joints (root-relative metres, camera frame)")
    return 0
