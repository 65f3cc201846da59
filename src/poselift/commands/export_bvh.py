"""`poselift export-bvh`: 3D poses (.npz) to a BVH animation for Blender, Unity, MotionBuilder, ..."""

from __future__ import annotations

import argparse

from poselift.commands import FPS

HELP = "write 3D poses (poses_3d.npz) as a BVH animation (clean rig, joint rotations, feet on the floor)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("poses", help="npz with poses_3d (T, 17, 3) metres (camera frame); optional trajectory "
                                      "(T, 3), poses_world (T, 17, 3) Y-up metres, fps")
    parser.add_argument("--out", "-o", required=True, help="output .bvh file")
    parser.add_argument("--naming", choices=("humanoid", "h36m"), default="humanoid",
                        help="joint names: humanoid (Hips, LeftUpperLeg, ... as Unity/VRM) or the Human3.6M names")
    parser.add_argument("--order", default="ZXY", type=str.upper,
                        choices=("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"), help="Euler rotation channel order")
    parser.add_argument("--units", choices=("cm", "m"), default="cm", help="file units")
    parser.add_argument("--fps", type=FPS, default=None,
                        help="frame rate (default: the npz's fps, else 30)")
    parser.add_argument("--floor", choices=("auto", "keep"), default="auto",
                        help="auto: floor at y=0 under the feet; keep: keep the world heights as given")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from poselift.array_files import load_arrays
    from poselift.errors import InputError
    from poselift.export.bvh_writer import export_bvh
    from poselift.keypoints_io import check_coordinates, numeric_array

    data = load_arrays(args.poses, ("poses_world", "poses_3d", "trajectory", "fps"))
    if "poses_world" in data:
        poses, frame, trajectory = data["poses_world"], "world", None
    elif "poses_3d" in data:
        poses, frame = data["poses_3d"], "camera"
        trajectory = data.get("trajectory")
    else:
        raise InputError(args.poses, "expected poses_3d or poses_world, found neither")
    name = "poses_world" if frame == "world" else "poses_3d"
    poses = numeric_array(poses, args.poses, name)
    if poses.ndim == 4 and poses.shape[0] == 1:
        poses = poses[0]  # one person stored as (1, T, 17, 3)
    if poses.ndim != 3 or poses.shape[1:] != (17, 3):
        raise InputError(args.poses, f"expected poses of shape (T, 17, 3), found {poses.shape}")
    if not np.isfinite(poses).all():
        raise InputError(args.poses, f"{name}: NaN or infinite values")
    check_coordinates(poses, args.poses, name)
    if trajectory is not None:
        trajectory = check_coordinates(numeric_array(trajectory, args.poses, "trajectory"), args.poses, "trajectory")
        if trajectory.shape != (len(poses), 3) or not np.isfinite(trajectory).all():
            raise InputError(args.poses, f"trajectory: expected ({len(poses)}, 3) finite metres, "
                                         f"found shape {trajectory.shape}")
    fps = args.fps
    if fps is None and "fps" in data:
        rate = numeric_array(data["fps"], args.poses, "fps").reshape(-1)
        if rate.shape != (1,) or not 0 < rate[0] <= 1000:
            raise InputError(args.poses, f"fps must be one number in (0, 1000], found {rate.tolist()[:4]}")
        fps = float(rate[0])
    if fps is None:
        fps = 30.0
        print("export-bvh: no fps in the file, writing 30 fps (set --fps)")
    try:
        animation = export_bvh(poses, args.out, fps=fps, naming=args.naming, order=args.order, units=args.units,
                               frame=frame, trajectory=trajectory, floor=args.floor)
    except InputError as error:
        if error.source is None:
            raise InputError(args.poses, error.problem) from None
        raise
    source = "poses_world" if frame == "world" else ("poses_3d + trajectory" if trajectory is not None else "poses_3d")
    print(f"{args.out}: {animation.num_frames} frames at {fps:g} fps, {len(animation.rig.names)} joints "
          f"({args.naming} names, {args.order}, {args.units}) from {source}")
    return 0
