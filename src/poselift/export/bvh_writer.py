"""Write 3D poses as a BVH animation: clean rig, solved rotations, root along the trajectory, feet on the floor.

The file: HIERARCHY with the rig's rest-pose (T-pose) OFFSETs, Y up, facing +Z; the root (Hips / pelvis)
has 6 channels (position, then rotation in the chosen Euler order), every other joint 3 rotation channels;
the root OFFSET is 0 so readers that add or replace root positions agree. MOTION: one row per frame,
Frame Time = 1 / fps. Units are centimetres (most DCC tools' default) or metres.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poselift.atomic import write_text_atomic
from poselift.errors import InputError
from poselift.export.rig import JOINTS, Rig, build_rig, retarget, symmetric_bone_lengths
from poselift.export.rotations import solve_rotations
from poselift.export.world import on_floor, to_world
from poselift.geometry.euler import check_euler_order, continuous_euler

UNITS = {"cm": 100.0, "m": 1.0}
"""File units per metre."""


@dataclass
class BvhAnimation:
    """An animation ready to write: rig, root positions (T, 3) metres and Euler angles (T, J, 3) degrees.

    joints: (T, 17, 3) metres, the Y-up world points the animation reproduces (bone lengths fixed, floor
    at y = 0): compare a reader's forward kinematics with these.
    """

    rig: Rig
    root: np.ndarray
    euler: np.ndarray
    joints: np.ndarray
    fps: float
    order: str
    units: str = "cm"

    @property
    def num_frames(self) -> int:
        """The number of frames T."""
        return int(self.euler.shape[0])


def animate(
    poses: np.ndarray,
    *,
    fps: float = 30.0,
    naming: str = "humanoid",
    order: str = "ZXY",
    units: str = "cm",
    frame: str = "camera",
    trajectory: np.ndarray | None = None,
    floor: str = "auto",
    lengths: np.ndarray | None = None,
) -> BvhAnimation:
    """Poses (T, 17, 3) metres -> BvhAnimation (see export_bvh for the arguments)."""
    order = check_euler_order(order)
    if units not in UNITS:
        raise InputError(None, f"units must be one of {', '.join(UNITS)}, found {units!r}")
    if floor not in ("auto", "keep"):
        raise InputError(None, f"floor must be 'auto' or 'keep', found {floor!r}")
    if not (np.isfinite(fps) and fps > 0):
        raise InputError(None, f"fps must be a positive number, found {fps}")
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (17, 3):
        raise InputError(None, f"expected poses of shape (T, 17, 3) (Human3.6M joints), found {poses.shape}")
    world = to_world(poses, frame, trajectory)
    lengths = symmetric_bone_lengths(world) if lengths is None else np.asarray(lengths, dtype=np.float64)
    rig = build_rig(lengths, naming)
    joints = retarget(world, lengths, rig.rest)
    if floor == "auto":
        joints = on_floor(joints, rig.ankle_height)
    _, local = solve_rotations(rig, joints)
    euler = continuous_euler(local, order)
    return BvhAnimation(rig=rig, root=joints[:, 0].copy(), euler=euler, joints=joints, fps=float(fps),
                        order=order, units=units)


def _children(parent: int) -> list[int]:
    return [j for j, spec in enumerate(JOINTS) if spec.parent == parent]


def format_bvh(animation: BvhAnimation) -> str:
    """The BVH text of an animation (HIERARCHY and MOTION)."""
    rig, scale = animation.rig, UNITS[animation.units]
    rotation_channels = " ".join(f"{axis}rotation" for axis in animation.order)
    names = rig.names
    lines = ["HIERARCHY"]
    columns: list[int] = []

    def vec(v: np.ndarray) -> str:
        return " ".join(f"{c * scale:.6f}" for c in v)

    def write(j: int, depth: int) -> None:
        pad = "\t" * depth
        root = JOINTS[j].parent < 0
        lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {names[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {vec(np.zeros(3) if root else rig.offsets[j])}")
        if root:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rotation_channels}")
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rotation_channels}")
        columns.append(j)
        children = _children(j)
        for child in children:
            write(child, depth + 1)
        if not children:
            lines.append(f"{pad}\tEnd Site")
            lines.append(f"{pad}\t{{")
            lines.append(f"{pad}\t\tOFFSET {vec(rig.end_sites[j])}")
            lines.append(f"{pad}\t}}")
        lines.append(f"{pad}}}")

    write(0, 0)
    lines += ["MOTION", f"Frames: {animation.num_frames}", f"Frame Time: {1.0 / animation.fps:.8f}"]
    data = np.concatenate([animation.root * scale, animation.euler[:, columns].reshape(animation.num_frames, -1)],
                          axis=1)
    buffer = io.StringIO()
    np.savetxt(buffer, data, fmt="%.6f", delimiter=" ")
    return "\n".join(lines) + "\n" + buffer.getvalue()


def write_bvh(path: str | os.PathLike, animation: BvhAnimation) -> Path:
    """Write an animation to a .bvh file atomically; returns the path."""
    path = Path(path)
    write_text_atomic(path, format_bvh(animation))
    return path


def export_bvh(
    poses: np.ndarray,
    path: str | os.PathLike,
    *,
    fps: float = 30.0,
    naming: str = "humanoid",
    order: str = "ZXY",
    units: str = "cm",
    frame: str = "camera",
    trajectory: np.ndarray | None = None,
    floor: str = "auto",
    lengths: np.ndarray | None = None,
) -> BvhAnimation:
    """Write Human3.6M poses (T, 17, 3) metres as a BVH animation at `path`; returns what was written.

    frame: "camera" (poselift's lifted output: x right, y down, z forward, root-relative or absolute) or
    "world" (already Y up, e.g. poses_world); trajectory: optional (T, 3) root positions in the same frame,
    replacing the poses' own root; floor: "auto" puts the floor at y = 0 under the feet, "keep" keeps the
    heights as given; naming: "humanoid" or "h36m"; order: Euler order of every joint (any of the 6);
    units: "cm" or "m"; lengths: bone lengths (17,) metres to use instead of the clip's medians.
    """
    animation = animate(poses, fps=fps, naming=naming, order=order, units=units, frame=frame,
                        trajectory=trajectory, floor=floor, lengths=lengths)
    write_bvh(path, animation)
    return animation
