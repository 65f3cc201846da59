"""Mocap -> Human3.6M 17 joints: mappings (built-in, detected, user files), clip names, splits, caching."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poselift.data.bvh import parse_bvh
from poselift.data.mocap import (
    BANDAI_MAPPING,
    apply_mapping,
    detect_mapping,
    load_mocap,
    parse_clip_name,
    split_by_style,
    style_counts,
)
from poselift.errors import InputError
from poselift.skeleton import H36M17

# A tiny skeleton with Bandai's joint names, bones along world axes (cm): (name, parent, offset).
BANDAI_LIKE = [
    ("Hips", None, (0, 90, 0)),
    ("Spine", "Hips", (0, 15, 0)),
    ("Chest", "Spine", (0, 10, 0)),
    ("Neck", "Chest", (0, 20, 0)),
    ("Head", "Neck", (0, 6, 0)),
    ("UpperArm_L", "Neck", (10, -3, 0)),
    ("LowerArm_L", "UpperArm_L", (25, 0, 0)),
    ("Hand_L", "LowerArm_L", (22, 0, 0)),
    ("UpperArm_R", "Neck", (-10, -3, 0)),
    ("LowerArm_R", "UpperArm_R", (-25, 0, 0)),
    ("Hand_R", "LowerArm_R", (-22, 0, 0)),
    ("UpperLeg_L", "Hips", (6, -2, 0)),
    ("LowerLeg_L", "UpperLeg_L", (0, -40, 0)),
    ("Foot_L", "LowerLeg_L", (0, -40, 0)),
    ("UpperLeg_R", "Hips", (-6, -2, 0)),
    ("LowerLeg_R", "UpperLeg_R", (0, -40, 0)),
    ("Foot_R", "LowerLeg_R", (0, -40, 0)),
]


def bvh_text(joints, frames: list[list[float]]) -> str:
    """A BVH file: root with 6 channels, other joints 3 rotation channels (ZXY), one line per frame."""
    children: dict[str | None, list] = {}
    for name, parent, offset in joints:
        children.setdefault(parent, []).append((name, offset))
    lines = ["HIERARCHY"]

    def emit(name, offset, depth, root):
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if root else 'JOINT'} {name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {offset[0]} {offset[1]} {offset[2]}")
        pos = "Xposition Yposition Zposition " if root else ""
        lines.append(f"{pad}  CHANNELS {6 if root else 3} {pos}Zrotation Xrotation Yrotation")
        for child, child_offset in children.get(name, []):
            emit(child, child_offset, depth + 1, False)
        if name not in children:
            lines.extend([pad + "  End Site", pad + "  {", pad + "    OFFSET 0 5 0", pad + "  }"])
        lines.append(pad + "}")

    (root_name, root_offset), = children[None]
    emit(root_name, root_offset, 0, True)
    lines += ["MOTION", f"Frames: {len(frames)}", "Frame Time: 0.0333333"]
    lines += [" ".join(str(v) for v in frame) for frame in frames]
    return "\n".join(lines) + "\n"


def rest_frame(yaw: float = 0.0) -> list[float]:
    return [0, 90, 0, 0, 0, yaw] + [0.0] * 3 * (len(BANDAI_LIKE) - 1)


def test_bandai_mapping_places_joints_as_documented():
    motion = parse_bvh(bvh_text(BANDAI_LIKE, [rest_frame()]))
    # Our toy skeleton's head frame is the world frame, so express the offsets in world axes here.
    mapping = json.loads(json.dumps(BANDAI_MAPPING))
    mapping["joints"]["head"] = {"offset_from": "Head", "offset": [0, 15, 1]}
    joints = apply_mapping(motion, mapping)[0]
    index = H36M17.index
    np.testing.assert_allclose(joints[index("pelvis")], [0, 0.88, 0], atol=1e-6)  # hip-joint midpoint
    np.testing.assert_allclose(joints[index("left_hip")], [0.12, 0.88, 0], atol=1e-6)  # spread doubled
    np.testing.assert_allclose(joints[index("right_hip")], [-0.12, 0.88, 0], atol=1e-6)
    np.testing.assert_allclose(joints[index("left_ankle")], [0.06, 0.08, 0], atol=1e-6)
    np.testing.assert_allclose(joints[index("spine")], [0, 1.10, 0], atol=1e-6)  # between Spine and Chest
    np.testing.assert_allclose(joints[index("thorax")], [0, 1.35, 0], atol=1e-6)
    np.testing.assert_allclose(joints[index("head")], [0, 1.56, 0.01], atol=1e-6)
    np.testing.assert_allclose(joints[index("left_shoulder")], [0.15, 1.32, 0], atol=1e-6)  # spread widened 1.5x
    np.testing.assert_allclose(joints[index("right_wrist")], [-0.57, 1.32, 0], atol=1e-6)


def test_offset_from_turns_with_its_joint():
    mapping = json.loads(json.dumps(BANDAI_MAPPING))
    mapping["joints"]["neck"] = {"offset_from": "Head", "offset": [0, 0, 10]}  # 10 cm in front of Head
    motions = [parse_bvh(bvh_text(BANDAI_LIKE, [rest_frame(yaw)])) for yaw in (0.0, 90.0)]
    facing, turned = (apply_mapping(m, mapping)[0] for m in motions)
    neck, head_joint = H36M17.index("neck"), np.array([0, 1.41, 0])
    np.testing.assert_allclose(facing[neck] - head_joint, [0, 0, 0.1], atol=1e-6)
    np.testing.assert_allclose(turned[neck] - head_joint, [0.1, 0, 0], atol=1e-6)  # yaw 90: +Z -> +X


def test_user_mapping_file_with_z_up_and_units(tmp_path):
    mapping = json.loads(json.dumps(BANDAI_MAPPING))
    mapping.update(units_to_metres=0.001, up_axis="z")
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(mapping))
    bvh = tmp_path / "take.bvh"
    bvh.write_text(bvh_text(BANDAI_LIKE, [rest_frame()]))
    clip, = load_mocap(bvh, mapping=path)
    assert clip.source == "bandai" and clip.joints_3d.shape == (1, 17, 3)
    # Source (x, y, z) in mm with z up -> (x, z, -y) metres with y up.
    np.testing.assert_allclose(clip.joints_3d[0, H36M17.index("thorax")], [0, 0, -0.135], atol=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["joints"].pop("head"), "missing ['head']"),
        (lambda m: m.update(units_to_metres=-1), "units_to_metres"),
        (lambda m: m.update(up_axis="x"), "up_axis"),
        (lambda m: m["joints"].update(spine={"between": ["Spine", "Chest"], "weights": [1, 1]}), "sum to 1"),
        (lambda m: m["joints"].update(spine={"near": "Spine"}), "expected 'between' or 'offset_from'"),
    ],
)
def test_bad_mapping_files_are_input_errors(tmp_path, change, message):
    mapping = json.loads(json.dumps(BANDAI_MAPPING))
    change(mapping)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(mapping))
    bvh = tmp_path / "take.bvh"
    bvh.write_text(bvh_text(BANDAI_LIKE, [rest_frame()]))
    with pytest.raises(InputError, match="bad.json") as info:
        load_mocap(bvh, mapping=path)
    assert message in str(info.value)


def test_mapping_needing_absent_joints_names_them(tmp_path):
    bvh = tmp_path / "take.bvh"
    bvh.write_text(bvh_text(BANDAI_LIKE, [rest_frame()]))
    with pytest.raises(InputError, match=r"absent here: \['LeftAnkle'"):
        load_mocap(bvh, source="cmu")
    with pytest.raises(InputError, match="unknown skeleton"):
        detect_mapping(["pelvis", "knee"])
    assert detect_mapping([n for n, _, _ in BANDAI_LIKE])["name"] == "bandai"


def test_clip_names_and_style_split():
    assert parse_clip_name("dataset-2_raise-up-both-hands_active_013") == {
        "subject": "dataset-2", "action": "raise-up-both-hands", "style": "active", "take": "013"
    }
    assert parse_clip_name("dataset-1_walk-turn-left_not-confident_001")["style"] == "not-confident"
    assert parse_clip_name("131_03") == {"subject": "131", "action": "", "style": "", "take": "03"}
    assert parse_clip_name("my take")["subject"] == "my take"


def test_split_by_style_and_cache(tmp_path):
    folder = tmp_path / "mocap"
    folder.mkdir()
    for style in ("happy", "sad", "happy"):
        name = f"dataset-1_walk_{style}_00{len(list(folder.iterdir())) + 1}.bvh"
        (folder / name).write_text(bvh_text(BANDAI_LIKE, [rest_frame(), rest_frame(10)]))
    clips = load_mocap(folder, cache_dir=tmp_path / "cache")
    assert [c.style for c in clips] == ["happy", "happy", "sad"]  # sorted by file name
    assert style_counts(clips) == {"happy": (2, 4), "sad": (1, 2)}
    train, held = split_by_style(clips, ["sad"])
    assert [c.name for c in held] == ["dataset-1_walk_sad_002"] and len(train) == 2
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 3
    again = load_mocap(folder, cache_dir=tmp_path / "cache")
    for a, b in zip(clips, again, strict=True):
        np.testing.assert_array_equal(a.joints_3d, b.joints_3d)
        assert (a.name, a.fps, a.style, a.take, a.source) == (b.name, b.fps, b.style, b.take, b.source)


# ------------------------------------------------------------------------------------------ real files


def check_anatomy(joints: np.ndarray, standing: bool) -> None:
    """Left joints on the person's left (not mirrored); if the first frame is standing, head above nose above
    thorax."""
    index = H36M17.index
    if standing:
        assert joints[0, index("head"), 1] > joints[0, index("neck"), 1] > joints[0, index("thorax"), 1]
    forward = joints[:, index("neck")] - joints[:, index("thorax")]
    forward[:, 1] = 0
    left_axis = np.cross([0.0, 1.0, 0.0], forward)
    for left, right in (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")):
        side = np.einsum("tc,tc->t", joints[:, index(left)] - joints[:, index(right)], left_axis)
        assert np.mean(side > 0) > 0.9, left
    hip_width = np.linalg.norm(joints[:, index("left_hip")] - joints[:, index("right_hip")], axis=-1)
    assert 0.2 < np.median(hip_width) < 0.32  # Human3.6M-like, wider than the mocap hip joints


def test_bandai_clips(shared_dir):
    folder = shared_dir / "data/mocap/bandai-namco/dataset-1"
    paths = [folder / "dataset-1_bow_normal_001.bvh", folder / "dataset-1_walk_tired_002.bvh"]
    clips = load_mocap(paths)
    assert [c.source for c in clips] == ["bandai", "bandai"] and all(c.fps == 30.0 for c in clips)
    assert (clips[1].action, clips[1].style, clips[1].take) == ("walk", "tired", "002")
    check_anatomy(clips[0].joints_3d, standing=True)
    check_anatomy(clips[1].joints_3d, standing=False)  # a tired walk: the head hangs below the thorax
    standing = clips[0].joints_3d[0]
    assert 1.45 < standing[H36M17.index("head"), 1] < 1.8  # metres: head top of a retargeted adult
    assert abs(standing[:, 1].min() - 0.08) < 0.06  # ankles a few cm above the floor


def test_cmu_clip(shared_dir):
    clip, = load_mocap(shared_dir / "data/mocap/cmu/131_03.bvh")
    assert clip.source == "cmu" and clip.fps == 120.0 and clip.num_frames == 1102
    check_anatomy(clip.joints_3d, standing=True)
    assert 1.3 < clip.joints_3d[:, H36M17.index("head"), 1].max() < 1.9


@pytest.mark.slow
def test_load_all_bandai(shared_dir):
    clips = load_mocap(shared_dir / "data/mocap/bandai-namco")
    assert len(clips) == 819 and sum(c.num_frames for c in clips) > 100_000
    assert all(np.isfinite(c.joints_3d).all() for c in clips)
