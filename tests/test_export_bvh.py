"""BVH export, checked by an independent reader: poselift.data.bvh (read_bvh + forward_kinematics)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from poselift.cli import main
from poselift.data.bvh import forward_kinematics, read_bvh
from poselift.errors import InputError
from poselift.export.bvh_writer import animate, export_bvh
from poselift.export.rig import POINT_JOINT, STANDARD_LENGTHS, rest_pose, retarget, symmetric_bone_lengths
from poselift.export.world import camera_to_world
from poselift.geometry import quaternions as quat
from poselift.geometry.euler import EULER_ORDERS
from poselift.skeleton import H36M17

PARENTS = np.array(H36M17.parents)


def synthetic_motion(frames: int = 90, seed: int = 0) -> np.ndarray:
    """Camera-frame poses (T, 17, 3) metres: every bone swinging smoothly, bone lengths jittering by ~1 cm,
    the body turning a full circle while walking, 4 m in front of the camera."""
    rng = np.random.default_rng(seed)
    rest = rest_pose(STANDARD_LENGTHS)
    t = np.arange(frames)[:, None] / 30.0
    axes = rng.normal(size=(17, 3))
    amplitude = np.deg2rad(rng.uniform(10, 50, size=17))
    speed = rng.uniform(0.5, 2.0, size=17)
    rotations = quat.from_axis_angle(np.broadcast_to(axes, (frames, 17, 3)), amplitude * np.sin(2 * np.pi * speed * t))
    world = np.zeros((frames, 17, 3))
    for child in range(1, 17):
        parent = PARENTS[child]
        bone = rest[child] - rest[parent]
        length = np.linalg.norm(bone) + rng.normal(scale=0.01, size=(frames, 1))
        world[:, child] = world[:, parent] + quat.rotate(rotations[:, child], bone) / np.linalg.norm(bone) * length
    heading = quat.from_axis_angle(np.broadcast_to([0.0, 1.0, 0.0], (frames, 3)), 2 * np.pi * t[:, 0] / t[-1, 0])
    world = quat.rotate(heading[:, None], world)
    world += np.stack([0.8 * np.sin(t[:, 0]), 0.05 * np.sin(6 * t[:, 0]), 0.5 * t[:, 0]], axis=-1)[:, None]
    camera = camera_to_world(world)  # the turn about x is its own inverse
    camera[..., 2] += 4.0
    return camera


def read_points(path, names: list[str], units_per_metre: float) -> np.ndarray:
    """The 17 points from a BVH file via the independent reader: (T, 17, 3) metres."""
    motion = read_bvh(path)
    positions = forward_kinematics(motion) / units_per_metre
    return positions[:, [motion.joint_names.index(names[j]) for j in POINT_JOINT]]


@pytest.mark.parametrize("order", EULER_ORDERS)
@pytest.mark.parametrize("naming,units", [("humanoid", "cm"), ("h36m", "m")])
def test_round_trip_synthetic_within_1cm(tmp_path, order, naming, units):
    poses = synthetic_motion()
    path = tmp_path / "motion.bvh"
    animation = export_bvh(poses, path, fps=30, naming=naming, order=order, units=units)
    got = read_points(path, animation.rig.names, 100.0 if units == "cm" else 1.0)
    error = np.linalg.norm(got - animation.joints, axis=-1)
    assert error.max() < 0.01, f"max error {error.max():.4f} m"
    # animation.joints are the input after bone-length normalisation, lifted onto the floor (a y shift only).
    world = camera_to_world(poses)
    expected = retarget(world, symmetric_bone_lengths(world))
    shift = animation.joints - expected
    np.testing.assert_allclose(shift[..., [0, 2]], 0, atol=1e-9)
    np.testing.assert_allclose(shift[..., 1], shift[0, 0, 1], atol=1e-9)


def test_file_layout(tmp_path):
    path = tmp_path / "motion.bvh"
    animation = export_bvh(synthetic_motion(20), path, fps=25, order="YXZ", units="cm")
    motion = read_bvh(path)
    assert motion.frame_time == pytest.approx(1 / 25)
    assert motion.num_frames == 20
    assert motion.channels[0] == ["Xposition", "Yposition", "Zposition", "Yrotation", "Xrotation", "Zrotation"]
    joints = [i for i, c in enumerate(motion.channels) if c]
    assert len(joints) == 20
    assert all(motion.channels[i] == ["Yrotation", "Xrotation", "Zrotation"] for i in joints[1:])
    assert motion.joint_names[0] == "Hips"
    np.testing.assert_allclose(motion.offsets[0], 0)
    # OFFSETs are the rig's rest pose in centimetres.
    index = {name: i for i, name in enumerate(motion.joint_names)}
    for j, name in enumerate(animation.rig.names):
        np.testing.assert_allclose(motion.offsets[index[name]], 100 * animation.rig.offsets[j] if j else 0, atol=1e-5)
    text = path.read_text()
    assert text.startswith("HIERARCHY\nROOT Hips\n")
    assert "\nMOTION\nFrames: 20\nFrame Time: 0.04000000\n" in text


def test_feet_on_the_floor_and_root_follows_the_trajectory(tmp_path):
    poses = synthetic_motion()
    animation = animate(poses)
    ankles = animation.joints[:, [3, 6], 1].min(axis=1)
    assert np.percentile(ankles, 10) == pytest.approx(animation.rig.ankle_height, abs=1e-9)
    # The root moves with the pelvis: 0.5 m/s towards the camera (world +Z) for 89 frames at 30 fps.
    np.testing.assert_allclose(animation.root, animation.joints[:, 0])
    assert animation.root[-1, 2] - animation.root[0, 2] == pytest.approx(0.5 * 89 / 30, abs=1e-6)
    kept = animate(poses, floor="keep")
    offset = kept.joints[..., 1] - animation.joints[..., 1]
    np.testing.assert_allclose(offset, offset[0, 0])


def test_trajectory_and_world_inputs(tmp_path):
    poses = synthetic_motion(30)
    trajectory = poses[:, 0].copy()
    relative = poses - poses[:, :1]
    with_trajectory = animate(relative, trajectory=trajectory)
    direct = animate(poses)
    np.testing.assert_allclose(with_trajectory.joints, direct.joints, atol=1e-9)
    world = animate(camera_to_world(poses), frame="world")
    np.testing.assert_allclose(world.joints, direct.joints, atol=1e-9)
    still = animate(relative)
    np.testing.assert_allclose(still.root[:, [0, 2]], 0, atol=1e-9)


def test_euler_curves_are_continuous(tmp_path):
    animation = animate(synthetic_motion(120), order="ZXY")
    # The body turns a full circle: the root's yaw unwraps past 180 degrees instead of jumping by 360.
    jumps = np.abs(np.diff(animation.euler, axis=0))
    assert jumps[:, 0].max() < 60
    assert np.ptp(animation.euler[:, 0, 2]) > 300 or np.ptp(animation.euler[:, 0, 0]) > 300


def test_atomic_write_keeps_the_old_file_on_error(tmp_path):
    path = tmp_path / "motion.bvh"
    path.write_text("old")
    with pytest.raises(InputError):
        export_bvh(np.full((5, 17, 3), np.nan), path)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["motion.bvh"]


def test_bad_arguments():
    poses = synthetic_motion(5)
    with pytest.raises(InputError, match="order"):
        animate(poses, order="XXY")
    with pytest.raises(InputError, match="units"):
        animate(poses, units="mm")
    with pytest.raises(InputError, match="fps"):
        animate(poses, fps=0)
    with pytest.raises(InputError, match=r"\(T, 17, 3\)"):
        animate(poses[:, :16])
    with pytest.raises(InputError, match="trajectory"):
        animate(poses, trajectory=np.zeros((4, 3)))


def test_round_trip_real_mocap(shared_dir, tmp_path):
    from poselift.data.mocap import load_mocap

    folder = shared_dir / "data" / "mocap"
    files = [next((folder / "bandai-namco").rglob("*dance*.bvh")), folder / "cmu" / "131_03.bvh"]
    for source in files:
        clip = load_mocap(source)[0]
        joints = clip.joints_3d[:600].astype(np.float64)
        path = tmp_path / f"{source.stem}.bvh"
        animation = export_bvh(joints, path, fps=clip.fps, frame="world")
        got = read_points(path, animation.rig.names, 100.0)
        error = np.linalg.norm(got - animation.joints, axis=-1)
        assert error.max() < 0.01, f"{source.name}: max error {error.max():.4f} m"
        # Bone-length normalisation moves mocap joints little: the rig is a faithful copy.
        moved = np.linalg.norm(animation.joints - (joints - joints[:, :1] + animation.joints[:, :1]), axis=-1)
        assert np.median(moved) < 0.02


def test_cli_export_bvh(tmp_path, capsys):
    poses = synthetic_motion(40)
    npz = tmp_path / "poses_3d.npz"
    np.savez(npz, poses_3d=(poses - poses[:, :1]).astype(np.float32), trajectory=poses[:, 0], fps=np.float32(25))
    out = tmp_path / "out.bvh"
    assert main(["export-bvh", str(npz), "-o", str(out), "--naming", "h36m", "--order", "xyz", "--units", "m"]) == 0
    motion = read_bvh(out)
    assert motion.frame_time == pytest.approx(1 / 25)
    assert motion.joint_names[0] == "pelvis" and motion.channels[1] == ["Xrotation", "Yrotation", "Zrotation"]
    assert "40 frames at 25 fps" in capsys.readouterr().out
    # poses_world wins over poses_3d; --fps wins over the file's fps.
    np.savez(npz, poses_3d=poses, poses_world=camera_to_world(poses))
    assert main(["export-bvh", str(npz), "-o", str(out), "--fps", "50"]) == 0
    assert read_bvh(out).frame_time == pytest.approx(1 / 50)
    assert "from poses_world" in capsys.readouterr().out


def test_cli_export_bvh_errors(tmp_path, capsys):
    npz = tmp_path / "bad.npz"
    np.savez(npz, keypoints=np.zeros((3, 17, 2)))
    assert main(["export-bvh", str(npz), "-o", str(tmp_path / "x.bvh")]) == 2
    assert "poselift: error:" in capsys.readouterr().err
    np.savez(npz, poses_3d=np.zeros((3, 15, 3)))
    assert main(["export-bvh", str(npz), "-o", str(tmp_path / "x.bvh")]) == 2
    assert "bad.npz: expected poses of shape (T, 17, 3)" in capsys.readouterr().err
    assert not (tmp_path / "x.bvh").exists()
