"""BVH reading and forward kinematics: small hand-written files with known answers, then the real mocap."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from poselift.data.bvh import forward_kinematics, parse_bvh, read_bvh
from poselift.errors import InputError
from poselift.geometry.euler import euler_to_matrix, matrix_to_euler

CHAIN = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
0 0 0 0 0 0 0 0 0
1 2 3 90 0 0 0 0 0
"""


def write(tmp_path: Path, text: str, name: str = "clip.bvh", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def test_chain_rest_pose_and_known_rotation(tmp_path):
    motion = read_bvh(write(tmp_path, CHAIN))
    assert motion.joint_names == ["Hips", "Spine", "Spine_End"]
    assert motion.parents.tolist() == [-1, 0, 1]
    assert motion.channels[2] == []
    assert motion.motion.shape == (2, 9)
    assert motion.fps == pytest.approx(30.0, rel=1e-4)
    positions = forward_kinematics(motion)
    assert positions.shape == (2, 3, 3)
    np.testing.assert_allclose(positions[0], [[0, 0, 0], [0, 10, 0], [0, 15, 0]], atol=1e-12)
    # Root at (1, 2, 3) turned 90 degrees about Z: +Y bones point along -X.
    np.testing.assert_allclose(positions[1], [[1, 2, 3], [-9, 2, 3], [-14, 2, 3]], atol=1e-12)


def test_rotation_channels_compose_in_listed_order():
    def spine_end(order: str) -> np.ndarray:
        names = {"Z": "Zrotation", "X": "Xrotation"}
        text = (
            "HIERARCHY\nROOT A\n{\n OFFSET 0 0 0\n CHANNELS 2 " + " ".join(names[a] for a in order)
            + "\n End Site\n {\n OFFSET 0 1 0\n }\n}\nMOTION\nFrames: 1\nFrame Time: 0.01\n90 90\n"
        )
        return forward_kinematics(parse_bvh(text))[0, 1]

    # R = Rz(90) @ Rx(90): (0,1,0) -> Rx -> (0,0,1) -> Rz -> (0,0,1).
    np.testing.assert_allclose(spine_end("ZX"), [0, 0, 1], atol=1e-12)
    # R = Rx(90) @ Rz(90): (0,1,0) -> Rz -> (-1,0,0) -> Rx -> (-1,0,0).
    np.testing.assert_allclose(spine_end("XZ"), [-1, 0, 0], atol=1e-12)


def test_child_rotation_is_applied_below_parent():
    text = CHAIN.replace("1 2 3 90 0 0 0 0 0", "0 0 0 0 0 0 0 90 0")  # Spine rotated 90 about X
    positions = forward_kinematics(parse_bvh(text))
    np.testing.assert_allclose(positions[1, 1], [0, 10, 0], atol=1e-12)  # the joint itself does not move
    np.testing.assert_allclose(positions[1, 2], [0, 10, 5], atol=1e-12)  # its child bone turns to +Z


def test_position_channels_replace_offsets_on_non_root_joints():
    six = "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
    text = CHAIN.replace("CHANNELS 3 Zrotation Xrotation Yrotation", six)
    text = text.replace("0 0 0 0 0 0 0 0 0\n", "0 0 0 0 0 0 0 10 0 0 0 0\n")
    text = text.replace("1 2 3 90 0 0 0 0 0\n", "0 0 0 0 0 0 0 12 0 0 0 0\n")
    positions = forward_kinematics(parse_bvh(text))
    np.testing.assert_allclose(positions[0, 1], [0, 10, 0], atol=1e-12)  # not 20: not added to OFFSET
    np.testing.assert_allclose(positions[1, 1], [0, 12, 0], atol=1e-12)


def test_crlf_tabs_blank_lines_and_odd_layout_read_the_same(tmp_path):
    messy = CHAIN.replace("  ", "\t").replace("MOTION\n", "\nMOTION\n\n")
    messy = messy.replace("Frame Time:", "Frame Time:\t").replace("OFFSET 0 10 0", "OFFSET\t0 10\n0")
    messy = messy.replace("0 0 0 0 0 0 0 0 0\n", "0 0 0 0 0 0 0 0 0\n\n")
    clean = read_bvh(write(tmp_path, CHAIN))
    for newline in ("\r\n", "\r"):
        other = read_bvh(write(tmp_path, messy, f"messy{len(newline)}.bvh", newline))
        assert other.joint_names == clean.joint_names
        np.testing.assert_array_equal(other.motion, clean.motion)
        np.testing.assert_allclose(forward_kinematics(other), forward_kinematics(clean))


def test_joint_names_may_contain_spaces_and_braces_may_share_lines():
    text = CHAIN.replace("JOINT Spine\n  {", "JOINT Upper Spine {").replace("ROOT Hips\n{", "ROOT Hips {")
    motion = parse_bvh(text)
    assert motion.joint_names == ["Hips", "Upper Spine", "Upper Spine_End"]
    np.testing.assert_allclose(forward_kinematics(motion), forward_kinematics(parse_bvh(CHAIN)))


def test_frames_argument_selects_frames():
    motion = parse_bvh(CHAIN)
    every = forward_kinematics(motion)
    np.testing.assert_allclose(forward_kinematics(motion, frames=np.array([1])), every[1:])
    np.testing.assert_allclose(forward_kinematics(motion, frames=slice(0, 1)), every[:1])


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("1 2 3 90 0 0 0 0 0\n", "1 2 3 90 0 0 0 0\n", "line 20: expected 9 values"),
        ("1 2 3 90 0 0 0 0 0\n", "", "truncated MOTION: Frames says 2, found 1"),
        ("1 2 3 90 0 0 0 0 0\n", "1 2 3 9O 0 0 0 0 0\n", "line 20: not a number: '9O'"),
        ("CHANNELS 3 Zrotation", "CHANNELS 4 Zrotation", "line 10: joint Spine: CHANNELS 4 lists 'End'"),
        ("OFFSET 0 10 0", "OFFSET 0 ten 0", "line 8: expected a number for OFFSET of Spine"),
        ("Frame Time: 0.0333333", "Frame Time: soon", "Frame Time is not a number"),
        ("MOTION\n", "", "no MOTION section"),
        ("    }\n  }\n}\n", "    }\n  }\n", "unexpected end of HIERARCHY"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, old, new, expected):
    assert old in CHAIN
    path = write(tmp_path, CHAIN.replace(old, new), "bad.bvh")
    with pytest.raises(InputError) as info:
        read_bvh(path)
    assert "bad.bvh" in str(info.value)
    assert expected in str(info.value)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_bvh(tmp_path / "absent.bvh")


def test_euler_to_matrix_matches_intrinsic_convention_and_inverts():
    rng = np.random.default_rng(0)
    angles = rng.uniform(-170, 170, (50, 3))
    angles[:, 1] = rng.uniform(-85, 85, 50)
    for order in ("".join(p) for p in itertools.permutations("XYZ")):
        matrices = euler_to_matrix(angles, order)
        assert matrices.shape == (50, 3, 3)
        by_hand = euler_to_matrix(angles[:, :1], order[0]) @ euler_to_matrix(angles[:, 1:2], order[1])
        by_hand = by_hand @ euler_to_matrix(angles[:, 2:], order[2])
        np.testing.assert_allclose(matrices, by_hand, atol=1e-12)
        np.testing.assert_allclose(matrix_to_euler(matrices, order), angles, atol=1e-9)
    rz = euler_to_matrix(np.array([[90.0]]), "Z")[0]
    np.testing.assert_allclose(rz @ [1, 0, 0], [0, 1, 0], atol=1e-12)  # right-handed, counter-clockwise


# ------------------------------------------------------------------------------------------ real files


def bone_lengths(motion, positions):
    return {
        motion.joint_names[c]: np.linalg.norm(positions[:, c] - positions[:, p], axis=-1)
        for c, p in enumerate(motion.parents)
        if p >= 0
    }


def test_bandai_skeleton_is_rigid_and_human_sized(shared_dir):
    path = shared_dir / "data/mocap/bandai-namco/dataset-1/dataset-1_walk_normal_001.bvh"
    motion = read_bvh(path)
    assert motion.num_frames > 100 and motion.fps == pytest.approx(30, rel=1e-3)
    assert "Head_End" in motion.joint_names
    positions = forward_kinematics(motion)
    for name, lengths in bone_lengths(motion, positions).items():
        if name != "Hips":  # joint_Root -> Hips is the global translation, not a bone
            assert np.ptp(lengths) < 1e-6, name
    upper_leg = bone_lengths(motion, positions)["Foot_L"].mean()
    assert 35 < upper_leg < 50  # centimetres, not doubled by adding position channels to offsets
    head = positions[:, motion.index("Head")]
    feet = positions[:, [motion.index("Toes_L"), motion.index("Toes_R")]]
    stature = head[:, 1] - feet[..., 1].min(axis=1)
    # The Head joint sits at the base of the skull; a ~1.7 m person has it ~1.35-1.6 m above the toes.
    assert 130 < np.median(stature) < 165


def test_cmu_mixed_channel_orders(shared_dir):
    motion = read_bvh(shared_dir / "data/mocap/cmu/131_03.bvh")
    assert motion.num_frames == 1102 and motion.fps == pytest.approx(120, rel=1e-3)
    orders = {"".join(c[0] for c in ch if c.endswith("rotation")) for ch in motion.channels if ch}
    assert {"ZYX", "ZXY"} <= orders
    positions = forward_kinematics(motion) * (2.54 / 0.45 / 100)  # metres
    lengths = bone_lengths(motion, positions)
    for name, values in lengths.items():
        assert np.ptp(values) < 1e-6, name
    shin = lengths["LeftAnkle"].mean()
    assert 0.3 < shin < 0.5
    head_top = positions[:, motion.index("Head_End"), 1]
    assert 1.3 < head_top.max() < 2.0


def test_cmu_forward_kinematics_matches_an_independent_per_frame_computation(shared_dir):
    from scipy.spatial.transform import Rotation

    motion = read_bvh(shared_dir / "data/mocap/cmu/131_03.bvh")
    frames = np.array([0, 500, 1101])
    fast = forward_kinematics(motion, frames=frames)
    starts = motion.channel_starts
    for t, frame in enumerate(frames):
        world = {}
        for j, (name, parent) in enumerate(zip(motion.joint_names, motion.parents, strict=True)):
            chans = motion.channels[j]
            values = motion.motion[frame, starts[j]: starts[j] + len(chans)]
            offset = motion.offsets[j].copy()
            for k, c in enumerate(chans):
                if c.endswith("position"):
                    offset["XYZ".index(c[0])] = values[k]
            rot_axes = "".join(c[0] for c in chans if c.endswith("rotation"))
            rot_values = [v for c, v in zip(chans, values, strict=True) if c.endswith("rotation")]
            local = Rotation.identity()
            if rot_axes:
                local = Rotation.from_euler(rot_axes, rot_values, degrees=True)
            if parent < 0:
                world[j] = (local, offset)
            else:
                parent_rot, parent_pos = world[parent]
                world[j] = (parent_rot * local, parent_pos + parent_rot.apply(offset))
            np.testing.assert_allclose(fast[t, j], world[j][1], atol=1e-9, err_msg=name)
