"""Human3.6M community files (small fixtures of the real layout), the CDF converter, custom detections,
and the restricted unpickler that reads them all."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from poselift.camera import load_h36m_cameras, normalize_screen_coordinates, project, world_to_camera
from poselift.cli import main
from poselift.data import h36m
from poselift.data.custom import CustomVideo, load_custom_detections, save_custom_detections
from poselift.data.restricted_pickle import load_npz
from poselift.errors import InputError
from poselift.skeleton import H36M17

# Parents of the 32 joints of the original release (VideoPose3D's h36m_skeleton), used to check the
# 32 -> 17 reduction against the 17-joint skeleton.
H36M32_PARENTS = (-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19, 22, 12,
                  24, 25, 26, 27, 28, 27, 30)


def world_motion(rng: np.random.Generator, frames: int, joints: int = 32) -> np.ndarray:
    """A smooth random (T, J, 3) motion in world metres, Z up, near the centre of the capture volume."""
    base = rng.normal(scale=0.25, size=(joints, 3)) + np.array([0.0, 0.0, 0.9])
    drift = np.cumsum(rng.normal(scale=0.005, size=(frames, 1, 3)), axis=0)
    return (base + drift).astype(np.float32)


@pytest.fixture
def community_files(tmp_path, rng):
    """data_3d_h36m.npz and data_2d_h36m_gt.npz: S9 and S11, two actions each, 60 frames, 4 cameras."""
    positions = {
        "S9": {"Walking 1": world_motion(rng, 60), "Directions 1": world_motion(rng, 60)},
        "S11": {"Walking 1": world_motion(rng, 60), "Directions 1": world_motion(rng, 60)},
    }
    keypoints = h36m.synthesise_2d(positions, load_h36m_cameras())
    path_3d, path_2d = tmp_path / "data_3d_h36m.npz", tmp_path / "data_2d_h36m_gt.npz"
    h36m.save_positions_3d(path_3d, positions)
    h36m.save_positions_2d(path_2d, keypoints, h36m.H36M17_METADATA)
    return path_3d, path_2d, positions, keypoints


# --- joints, names, splits --------------------------------------------------------------------------


def test_32_to_17_reduction_agrees_with_the_skeletons():
    kept = list(h36m.H36M32_TO_17)
    assert len(kept) == 17 and kept == sorted(kept)
    for i, joint in enumerate(kept):
        parent = H36M32_PARENTS[joint]
        while parent != -1 and parent not in kept:  # walk up over the removed joints
            parent = H36M32_PARENTS[parent]
        expected = -1 if parent == -1 else kept.index(parent)
        if H36M17.joint_names[i] in ("left_shoulder", "right_shoulder"):
            # the release hangs the shoulders off the spine; VideoPose3D rewires them to the thorax
            assert expected == H36M17.index("spine")
            assert H36M17.parents[i] == H36M17.index("thorax")
        else:
            assert expected == H36M17.parents[i], H36M17.joint_names[i]
    assert h36m.reduce_to_17(np.arange(32 * 3).reshape(1, 32, 3)).shape == (1, 17, 3)
    with pytest.raises(InputError, match="32 or 17 joints"):
        h36m.reduce_to_17(np.zeros((1, 20, 3)))


def test_32_to_17_reduction_picks_the_named_joints():
    # The release's names of the moving joints (as listed by Martinez et al.'s 3d-pose-baseline), a
    # source independent of VideoPose3D's list of removed joints.
    release_names = {0: "Hip", 1: "RHip", 2: "RKnee", 3: "RFoot", 6: "LHip", 7: "LKnee", 8: "LFoot",
                     12: "Spine", 13: "Thorax", 14: "Neck/Nose", 15: "Head", 17: "LShoulder", 18: "LElbow",
                     19: "LWrist", 25: "RShoulder", 26: "RElbow", 27: "RWrist"}
    ours = {"pelvis": "Hip", "right_hip": "RHip", "right_knee": "RKnee", "right_ankle": "RFoot",
            "left_hip": "LHip", "left_knee": "LKnee", "left_ankle": "LFoot", "spine": "Spine",
            "thorax": "Thorax", "neck": "Neck/Nose", "head": "Head", "left_shoulder": "LShoulder",
            "left_elbow": "LElbow", "left_wrist": "LWrist", "right_shoulder": "RShoulder",
            "right_elbow": "RElbow", "right_wrist": "RWrist"}
    for i, joint in enumerate(h36m.H36M32_TO_17):
        assert release_names[joint] == ours[H36M17.joint_names[i]]


def test_action_names_and_split():
    assert h36m.normalize_action_name("Walking 1") == "Walking"
    assert h36m.normalize_action_name("WalkTogether") == "WalkTogether"
    assert h36m.canonical_action_name("TakingPhoto 1") == "Photo 1"
    assert h36m.canonical_action_name("WalkingDog") == "WalkDog"
    assert set(h36m.TRAIN_SUBJECTS).isdisjoint(h36m.TEST_SUBJECTS)
    assert h36m.TEST_SUBJECTS == ("S9", "S11")


# --- loading sequences ------------------------------------------------------------------------------


def test_sequences_are_camera_frame_metres_with_normalised_2d(community_files):
    path_3d, path_2d, positions, keypoints = community_files
    sequences = h36m.load_h36m_sequences(path_3d, path_2d, subjects=None)
    assert len(sequences) == 2 * 2 * 4
    cameras = load_h36m_cameras()
    seq = next(s for s in sequences if (s.subject, s.action, s.camera) == ("S11", "Walking 1", "58860488"))
    seq.validate()
    assert seq.fps == 50 and seq.num_joints == 17 and seq.num_frames == 60
    camera = cameras["S11"][2]
    expected = world_to_camera(positions["S11"]["Walking 1"][:, list(h36m.H36M32_TO_17)].astype(np.float64), camera)
    np.testing.assert_allclose(seq.poses_3d, expected, atol=1e-5)
    assert (seq.poses_3d[..., 2] > 2).all()  # in front of the camera, metres
    np.testing.assert_allclose(
        seq.keypoints_2d, normalize_screen_coordinates(keypoints["S11"]["Walking 1"][2], 1000, 1000), atol=1e-6
    )
    # the 2D keypoints are the projection of the 3D poses through the same camera
    np.testing.assert_allclose(
        seq.keypoints_2d, normalize_screen_coordinates(project(seq.poses_3d, camera), 1000, 1000), atol=1e-4
    )
    assert seq.camera_params["width"] == 1000 and seq.camera_params["focal"].shape == (2,)


def test_subject_and_action_filters(community_files):
    path_3d, path_2d, *_ = community_files
    default = h36m.load_h36m_sequences(path_3d, path_2d)
    assert {s.subject for s in default} == {"S9", "S11"}
    walking = h36m.load_h36m_sequences(path_3d, path_2d, subjects=["S9"], actions=["Walk"])
    assert {(s.subject, s.action) for s in walking} == {("S9", "Walking 1")}
    assert [s.camera for s in walking] == list(h36m.CAMERA_IDS)
    with pytest.raises(InputError, match="subject S1 not in file"):
        h36m.load_h36m_sequences(path_3d, path_2d, subjects=["S1"])


def test_lengths_are_cropped_to_the_shorter(community_files, tmp_path):
    path_3d, _, positions, keypoints = community_files
    keypoints["S9"]["Walking 1"] = [np.concatenate([k, k[:5]]) for k in keypoints["S9"]["Walking 1"]]  # 65 frames
    keypoints["S9"]["Directions 1"] = [k[:50] for k in keypoints["S9"]["Directions 1"]]  # 50 frames
    path_2d = tmp_path / "lengths.npz"
    h36m.save_positions_2d(path_2d, keypoints, h36m.H36M17_METADATA)
    sequences = h36m.load_h36m_sequences(path_3d, path_2d, subjects=["S9"])
    lengths = {s.action: s.num_frames for s in sequences}
    assert lengths == {"Walking 1": 60, "Directions 1": 50}
    assert all(s.poses_3d.shape[0] == s.keypoints_2d.shape[0] for s in sequences)


def test_s11_directions_quirk(community_files, tmp_path):
    path_3d, _, positions, keypoints = community_files
    positions["S11"]["Directions"] = positions["S11"]["Directions 1"]  # in 3D, absent from the 2D file
    path_3d = tmp_path / "with_s11_directions.npz"
    h36m.save_positions_3d(path_3d, positions)
    path_2d = tmp_path / "2d.npz"
    h36m.save_positions_2d(path_2d, keypoints, h36m.H36M17_METADATA)
    sequences = h36m.load_h36m_sequences(path_3d, path_2d)
    assert ("S11", "Directions") not in {(s.subject, s.action) for s in sequences}
    # any other missing action is an error, even another take of S11 Directions
    del keypoints["S11"]["Directions 1"]
    h36m.save_positions_2d(path_2d, keypoints, h36m.H36M17_METADATA)
    with pytest.raises(InputError, match="S11/Directions 1 is in the 3D file but not in the 2D file"):
        h36m.load_h36m_sequences(path_3d, path_2d)
    del keypoints["S9"]["Walking 1"]
    h36m.save_positions_2d(path_2d, keypoints, h36m.H36M17_METADATA)
    with pytest.raises(InputError, match="S9/Walking 1 is in the 3D file but not in the 2D file"):
        h36m.load_h36m_sequences(path_3d, path_2d)


def test_a_missing_view_is_skipped(community_files, tmp_path):
    path_3d, _, _, keypoints = community_files
    views = keypoints["S9"]["Walking 1"]
    keypoints["S9"]["Walking 1"] = [views[0], None, views[2], views[3]]
    path_2d = tmp_path / "2d.npz"
    h36m.save_positions_2d(path_2d, keypoints, h36m.H36M17_METADATA)
    sequences = h36m.load_h36m_sequences(path_3d, path_2d, subjects=["S9"], actions=["Walking"])
    assert [s.camera for s in sequences] == ["54138969", "58860488", "60457274"]


# --- corrupt and mismatched files ---------------------------------------------------------------------


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_not_a_zip(community_files, tmp_path):
    _, path_2d, *_ = community_files
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(InputError) as excinfo:
        h36m.load_h36m_sequences(bad, path_2d)
    assert one_line_error(excinfo) == f"{bad}: not an .npz file (not a zip archive)"
    with pytest.raises(InputError, match="no such file"):
        h36m.load_positions_3d(tmp_path / "absent.npz")


def test_missing_key(community_files, tmp_path):
    path_3d, *_ = community_files
    bad = tmp_path / "bad.npz"
    np.savez(bad, poses=np.zeros(3))
    with pytest.raises(InputError) as excinfo:
        h36m.load_h36m_sequences(path_3d, bad)
    assert one_line_error(excinfo) == f"{bad}: missing key 'positions_2d' (found: poses)"


def test_wrong_joint_counts(community_files, tmp_path, rng):
    path_3d, path_2d, positions, keypoints = community_files
    bad_3d = tmp_path / "bad3d.npz"
    positions["S9"]["Walking 1"] = world_motion(rng, 60, joints=25)
    h36m.save_positions_3d(bad_3d, positions)
    with pytest.raises(InputError) as excinfo:
        h36m.load_h36m_sequences(bad_3d, path_2d)
    assert one_line_error(excinfo) == f"{bad_3d}: S9/Walking 1: expected 32 or 17 joints, found 25"

    bad_2d = tmp_path / "bad2d.npz"
    keypoints["S11"]["Walking 1"][1] = np.zeros((60, 16, 2), np.float32)
    h36m.save_positions_2d(bad_2d, keypoints, h36m.H36M17_METADATA)
    with pytest.raises(InputError) as excinfo:
        h36m.load_h36m_sequences(path_3d, bad_2d)
    assert one_line_error(excinfo) == f"{bad_2d}: S11/Walking 1 camera 1: expected 17 joints, found 16"


def test_subject_mismatch_and_camera_count(community_files, tmp_path):
    path_3d, _, _, keypoints = community_files
    bad_2d = tmp_path / "bad2d.npz"
    h36m.save_positions_2d(bad_2d, {"S9": keypoints["S9"]}, h36m.H36M17_METADATA)
    with pytest.raises(InputError) as excinfo:
        h36m.load_h36m_sequences(path_3d, bad_2d)
    assert one_line_error(excinfo) == f"{bad_2d}: subject S11 is in the 3D file but not in the 2D file"

    keypoints["S9"]["Walking 1"] = keypoints["S9"]["Walking 1"][:3]
    h36m.save_positions_2d(bad_2d, keypoints, h36m.H36M17_METADATA)
    with pytest.raises(InputError, match="S9/Walking 1: 3 camera views, calibration has 4"):
        h36m.load_h36m_sequences(path_3d, bad_2d)


def test_foreign_layout_is_rejected(community_files, tmp_path):
    path_3d, _, _, keypoints = community_files
    bad_2d = tmp_path / "coco.npz"
    h36m.save_positions_2d(bad_2d, keypoints, {**h36m.H36M17_METADATA, "layout_name": "coco"})
    with pytest.raises(InputError, match="'coco' layout"):
        h36m.load_h36m_sequences(path_3d, bad_2d)


# --- the restricted unpickler -------------------------------------------------------------------------


class _Hostile:
    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_hostile_pickle_is_refused_without_running_it(tmp_path):
    target = tmp_path / "pwned"
    bad = tmp_path / "hostile.npz"
    np.savez(bad, positions_3d=np.array({"S1": {"Walking": _Hostile(str(target))}}, dtype=object))
    with pytest.raises(InputError) as excinfo:
        h36m.load_positions_3d(bad)
    assert f"{bad}: entry 'positions_3d': refusing to unpickle" in one_line_error(excinfo)
    assert "mkdir" in str(excinfo.value)
    assert not target.exists()


def test_python2_style_pickles_are_read(tmp_path):
    """Protocol-2 pickles (as old files have) reference _codecs.encode for bytes; still readable."""
    positions = {"S1": {"Walking": np.arange(6, dtype=np.float32).reshape(1, 2, 3)}}
    array = np.array(positions, dtype=object)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, np.lib.format.header_data_from_array_1_0(array))
    pickle.dump(array, buffer, protocol=2)
    path = tmp_path / "old.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("positions_3d.npy", buffer.getvalue())
    assert b"_codecs" in buffer.getvalue()
    loaded = load_npz(path)["positions_3d"]
    np.testing.assert_array_equal(loaded["S1"]["Walking"], positions["S1"]["Walking"])


def test_plain_arrays_and_corrupt_pickles(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.arange(4))
    np.testing.assert_array_equal(load_npz(path)["a"], np.arange(4))
    truncated = tmp_path / "truncated.npz"
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array({"S1": {}}, dtype=object))
    with zipfile.ZipFile(truncated, "w") as archive:
        archive.writestr("positions_3d.npy", buffer.getvalue()[:-8])
    with pytest.raises(InputError, match="entry 'positions_3d'"):
        load_npz(truncated)


# --- the original release's CDF files -------------------------------------------------------------------


def write_pose_cdf(path: Path, positions_mm: np.ndarray) -> None:
    """A D3_Positions CDF file like the release's: one record of 'Pose' (T, 96) in millimetres."""
    from cdflib.cdfwrite import CDF

    path.parent.mkdir(parents=True, exist_ok=True)
    frames = positions_mm.shape[0]
    cdf = CDF(str(path), delete=True)
    cdf.write_var(
        {"Variable": "Pose", "Data_Type": CDF.CDF_FLOAT, "Num_Elements": 1, "Rec_Vary": True,
         "Dim_Sizes": [frames, 96]},
        var_data=positions_mm.reshape(1, frames, 96).astype(np.float32),
    )
    cdf.close()


def test_prepare_from_cdf_and_ground_truth_2d(tmp_path, rng):
    root = tmp_path / "release"
    walking = world_motion(rng, 12) * 1000
    photo = world_motion(rng, 8) * 1000
    write_pose_cdf(root / "S9" / "MyPoseFeatures" / "D3_Positions" / "Walking 1.cdf", walking)
    write_pose_cdf(root / "S9" / "MyPoseFeatures" / "D3_Positions" / "TakingPhoto.cdf", photo)
    write_pose_cdf(root / "S11" / "MyPoseFeatures" / "D3_Positions" / "Directions.cdf", photo)
    write_pose_cdf(root / "S11" / "MyPoseFeatures" / "D3_Positions" / "Directions 1.cdf", walking)
    out = tmp_path / "data_3d_h36m.npz"
    assert main(["prepare", "h36m", "--from", str(root), "--out", str(out)]) == 0
    positions = h36m.load_positions_3d(out)
    assert sorted(positions) == ["S11", "S9"]
    assert sorted(positions["S9"]) == ["Photo", "Walking 1"]
    assert sorted(positions["S11"]) == ["Directions 1"]  # S11 'Directions' dropped as in VideoPose3D
    np.testing.assert_allclose(positions["S9"]["Walking 1"], walking / 1000, atol=1e-6)
    assert positions["S9"]["Photo"].shape == (8, 32, 3)

    out_2d = tmp_path / "data_2d_h36m_gt.npz"
    assert main(["prepare", "h36m-2d-gt", "--data-3d", str(out), "--out", str(out_2d)]) == 0
    keypoints, metadata = h36m.load_positions_2d(out_2d)
    assert metadata["layout_name"] == "h36m" and metadata["num_joints"] == 17
    assert [k.shape for k in keypoints["S9"]["Photo"]] == [(8, 17, 2)] * 4
    sequences = h36m.load_h36m_sequences(out, out_2d)
    assert len(sequences) == 3 * 4


def test_prepare_errors(tmp_path, capsys):
    bad = tmp_path / "release" / "S9" / "MyPoseFeatures" / "D3_Positions" / "Walking.cdf"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a cdf")
    assert main(["prepare", "h36m", "--from", str(tmp_path / "release"), "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"poselift: error: {bad}: not a readable Human3.6M CDF file") and "\n" not in err
    assert not (tmp_path / "o.npz").exists()
    assert main(["prepare", "h36m", "--from", str(tmp_path / "empty"), "--out", str(tmp_path / "o.npz")]) == 2
    assert "no such directory" in capsys.readouterr().err

    from cdflib.cdfwrite import CDF

    odd = tmp_path / "odd.cdf"
    cdf = CDF(str(odd), delete=True)
    cdf.write_var({"Variable": "Pose", "Data_Type": CDF.CDF_FLOAT, "Num_Elements": 1, "Rec_Vary": True,
                   "Dim_Sizes": [3, 95]}, var_data=np.zeros((1, 3, 95), np.float32))
    cdf.close()
    with pytest.raises(InputError, match="not a multiple of 32 joints"):
        h36m.read_d3_positions_cdf(odd)


# --- VideoPose3D custom detections -------------------------------------------------------------------


def test_custom_detections_round_trip_and_errors(tmp_path, rng):
    path = tmp_path / "data_2d_custom_myvideos.npz"
    keypoints = (rng.uniform(0, 640, size=(30, 17, 2))).astype(np.float32)
    save_custom_detections(path, {"clip.mp4": CustomVideo("clip.mp4", keypoints, 640, 360, "coco")})
    videos = load_custom_detections(path)
    video = videos["clip.mp4"]
    assert (video.width, video.height, video.layout_name) == (640, 360, "coco")
    np.testing.assert_array_equal(video.keypoints, keypoints)

    # a file written the way VideoPose3D's prepare_data_2d_custom.py writes it
    vp3d = tmp_path / "vp3d.npz"
    metadata = {"layout_name": "coco", "num_joints": 17, "keypoints_symmetry": [[1, 3], [2, 4]],
                "video_metadata": {"a.mp4": {"w": 1920, "h": 1080}}}
    np.savez_compressed(vp3d, positions_2d={"a.mp4": {"custom": [keypoints]}}, metadata=metadata)
    assert load_custom_detections(vp3d)["a.mp4"].width == 1920

    no_size = tmp_path / "nosize.npz"
    np.savez_compressed(no_size, positions_2d={"a.mp4": {"custom": [keypoints]}},
                        metadata={**metadata, "video_metadata": {}})
    with pytest.raises(InputError, match="no width/height for 'a.mp4'"):
        load_custom_detections(no_size)
    wrong = tmp_path / "wrong.npz"
    np.savez_compressed(wrong, positions_2d={"a.mp4": {"custom": [keypoints[:, :15]]}}, metadata=metadata)
    with pytest.raises(InputError, match="15 joints, metadata says 17"):
        load_custom_detections(wrong)
