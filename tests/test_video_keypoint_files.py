"""Importers for 2D keypoint files: COCO, AlphaPose, OpenPose, VideoPose3D, our npz; auto-detection; errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poselift.errors import InputError
from poselift.video.keypoint_files import detect_format, read_keypoints


def _flat(count: int, x0: float, score: float = 0.9) -> list[float]:
    return [v for j in range(count) for v in (x0 + j, 100 + 2 * j, score)]


def test_coco_results_json(tmp_path):
    path = tmp_path / "detections.json"
    entries = [
        {"image_id": 1, "category_id": 1, "keypoints": _flat(17, 10), "score": 0.99, "bbox": [5, 6, 50, 80]},
        {"image_id": 1, "category_id": 1, "keypoints": _flat(17, 200), "score": 0.8, "bbox": [190, 90, 40, 70]},
        {"image_id": 4, "category_id": 1, "keypoints": _flat(17, 12), "score": 0.97, "bbox": [7, 6, 50, 80]},
        {"image_id": 2, "category_id": 3, "keypoints": _flat(17, 0), "score": 0.5},  # not a person
    ]
    path.write_text(json.dumps(entries))
    assert detect_format(path) == "coco"
    result = read_keypoints(path)
    assert result.layout.name == "coco17"
    assert [len(f) for f in result.frames] == [2, 0, 0, 1]  # 1-based ids; frames 2 and 3 have nobody
    first = result.frames[0][0]
    assert first.keypoints.shape == (17, 2) and first.keypoints[3, 0] == 13
    np.testing.assert_allclose(first.bbox, [5, 6, 55, 86])
    assert first.score == pytest.approx(0.99)


def test_scores_above_one_are_rescaled(tmp_path):
    path = tmp_path / "logits.json"
    path.write_text(json.dumps([{"image_id": 0, "keypoints": _flat(17, 0, score=4.0)}]))
    scores = read_keypoints(path).frames[0][0].scores
    assert scores.max() <= 1.0 and scores.min() > 0.5


def test_coco_annotation_file_uses_visibility_flags(tmp_path):
    path = tmp_path / "annotations.json"
    keypoints = _flat(17, 0, score=2)
    keypoints[2] = 0  # nose not labelled
    path.write_text(json.dumps({
        "images": [{"id": 7, "file_name": "frame_000003.jpg", "width": 640, "height": 480}],
        "annotations": [{"image_id": 7, "category_id": 1, "keypoints": keypoints}],
    }))
    result = read_keypoints(path)
    assert result.image_size == (640, 480)
    assert len(result.frames) == 4 and result.frames[3]
    assert result.frames[3][0].scores[0] == 0 and result.frames[3][0].scores[1] == 1


def test_alphapose_halpe26_with_track_ids(tmp_path):
    path = tmp_path / "alphapose-results.json"
    entries = [
        {"image_id": f"{t}.jpg", "category_id": 1, "keypoints": _flat(26, 10 * t + 100 * p), "score": 2.5,
         "box": [0, 0, 10, 10], "idx": [p + 1]}
        for t in range(3) for p in range(2)
    ]
    path.write_text(json.dumps(entries))
    assert detect_format(path) == "alphapose"
    result = read_keypoints(path)
    assert result.layout.name == "halpe26" and len(result.frames) == 3
    assert sorted(d.track_id for d in result.frames[2]) == [1, 2]


def test_halpe136_uses_its_first_26_points(tmp_path):
    path = tmp_path / "wholebody.json"
    path.write_text(json.dumps([{"image_id": "0.jpg", "keypoints": _flat(136, 0), "idx": 1}]))
    result = read_keypoints(path, format="alphapose")
    assert result.layout.name == "halpe26" and result.frames[0][0].keypoints.shape == (26, 2)


def test_openpose_folder_with_missing_frames_and_joints(tmp_path):
    folder = tmp_path / "openpose"
    folder.mkdir()
    for frame in (0, 1, 3):
        keypoints = _flat(25, frame)
        keypoints[3 * 4 : 3 * 4 + 3] = [0, 0, 0]  # right wrist not found
        people = [{"person_id": [-1], "pose_keypoints_2d": keypoints}] if frame != 1 else []
        (folder / f"clip_{frame:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    assert detect_format(folder) == "openpose"
    result = read_keypoints(folder)
    assert result.layout.name == "body25"
    assert [len(f) for f in result.frames] == [1, 0, 0, 1]
    det = result.frames[3][0]
    assert det.track_id is None and det.scores[4] == 0 and det.scores[3] == pytest.approx(0.9)


def test_openpose_coco18_single_file(tmp_path):
    path = tmp_path / "one_keypoints.json"
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": _flat(18, 0), "person_id": 4}]}))
    result = read_keypoints(path)
    assert result.layout.name == "openpose_coco18" and result.frames[0][0].track_id == 4


def test_videopose3d_custom_and_detections_npz(tmp_path):
    positions = np.random.default_rng(0).uniform(0, 500, (5, 17, 2)).astype(np.float32)
    custom = tmp_path / "data_2d_custom_myvideos.npz"
    np.savez_compressed(
        custom, positions_2d={"clip.mp4": {"custom": [positions]}},
        metadata={"layout_name": "coco", "num_joints": 17, "video_metadata": {"clip.mp4": {"w": 640, "h": 360}}},
    )
    assert detect_format(custom) == "vp3d"
    result = read_keypoints(custom)
    assert result.layout.name == "coco17" and result.image_size == (640, 360) and len(result.frames) == 5
    np.testing.assert_allclose(result.frames[2][0].keypoints, positions[2], rtol=1e-6)

    boxes = np.empty(2, dtype=object)
    keypoints = np.empty(2, dtype=object)
    boxes[0], keypoints[0] = [[], np.array([[0, 0, 10, 10, 0.9]])], [[], np.ones((1, 4, 17)) * 0.5]
    boxes[1], keypoints[1] = [[], np.zeros((0, 5))], [[], np.zeros((0, 4, 17))]
    detections = tmp_path / "clip.mp4.npz"
    np.savez_compressed(detections, boxes=boxes, segments=np.zeros(2), keypoints=keypoints,
                        metadata={"w": 100, "h": 80})
    result = read_keypoints(detections)
    assert [len(f) for f in result.frames] == [1, 0] and result.image_size == (100, 80)


def test_our_npz_in_pixels_or_normalised(tmp_path):
    keypoints = np.random.default_rng(1).uniform(0, 100, (4, 17, 2))
    valid = np.array([True, False, True, True])
    pixels = tmp_path / "pixels.npz"
    np.savez(pixels, keypoints_2d=keypoints, confidence=np.full((4, 17), 0.5), image_size=np.array([100, 80]),
             valid=valid, fps=np.float64(25))
    result = read_keypoints(pixels)
    assert result.layout.name == "h36m17" and result.image_size == (100, 80) and result.fps == 25
    assert [len(f) for f in result.frames] == [1, 0, 1, 1]
    np.testing.assert_allclose(result.frames[0][0].keypoints, keypoints[0])

    normalised = tmp_path / "normalised.npz"
    np.savez(normalised, keypoints_2d=np.zeros((2, 17, 2)))
    result = read_keypoints(normalised)
    assert result.normalized and result.image_size is None


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.json", "[{\"image_id\": 1, \"keypoints\": [1, 2", "invalid JSON at line 1"),
        ("bad.json", json.dumps([{"image_id": 1, "keypoints": [1, 2, 3, 4]}]), "triplets"),
        ("bad.json", json.dumps([{"image_id": 1, "keypoints": _flat(20, 0)}]), "20 joints"),
        ("bad.json", json.dumps([{"id": 1}]), "image_id and keypoints"),
        ("bad.json", "[]", "empty"),
        ("bad.json", json.dumps({"something": 1}), "neither"),
        ("bad.txt", "hello", "--format"),
    ],
)
def test_malformed_files_name_the_file_and_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message) as error:
        read_keypoints(path)
    assert str(path) in str(error.value)


def test_npz_errors(tmp_path):
    path = tmp_path / "wrong.npz"
    np.savez(path, something=np.zeros(3))
    with pytest.raises(InputError, match="keypoints_2d"):
        read_keypoints(path)
    np.savez(path, keypoints_2d=np.zeros((3, 17)))
    with pytest.raises(InputError, match=r"\(T, J, 2\)"):
        read_keypoints(path)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="npz"):
        read_keypoints(corrupt)
    with pytest.raises(InputError, match="no such file"):
        read_keypoints(tmp_path / "missing.json")
