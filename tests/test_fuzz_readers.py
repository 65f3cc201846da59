"""Fuzzing every reader of user input: a valid result or a one-line InputError, within a memory bound.

Seeded Hypothesis generators: structured inputs (valid files with hostile values) and byte-level mutations
of valid files. The default suite runs FAST_EXAMPLES inputs per reader; the slow suite SLOW_EXAMPLES.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import fast, holds, slow
from poselift.data.bvh import parse_bvh
from poselift.keypoints_io import read_keypoints_npz
from poselift.live import keypoint_lines, parse_keypoint_line
from poselift.training.config import load_config
from poselift.video.keypoint_files import read_keypoints

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 1e300, -1e300, 1e38, 3.5e38, 1e-320, 640, 480]),
)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=8))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=6)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=5), max_leaves=30)
DTYPES = st.sampled_from(["float64", "float32", "float16", "int64", "int8", "uint8", "bool", "U3", "complex64"])


def _mutate(data: bytes, draw) -> bytes:
    """Truncate, flip bytes, or splice: a damaged copy of a valid file."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "zero"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            data[at:at + 8] = b"\xff" * 8
    return bytes(data)


def _array(draw, shape_max: int = 6) -> np.ndarray:
    shape = tuple(draw(st.lists(st.integers(0, shape_max), min_size=0, max_size=4)))
    dtype = draw(DTYPES)
    values = np.asarray(draw(st.lists(NUMBERS, min_size=1, max_size=4)), dtype=np.float64)
    with np.errstate(all="ignore"):
        filled = np.resize(values, shape) if values.size else np.zeros(shape)
        if dtype.startswith("U"):
            return filled.astype(str).astype(dtype)
        return filled.astype(dtype)


def _keypoint_npz(draw) -> bytes:
    frames, joints = draw(st.integers(0, 12)), draw(st.sampled_from([0, 1, 17, 25, 26, 33]))
    coords = draw(st.sampled_from(["normal", "huge", "nan", "inf", "strings", "random"]))
    keypoints = np.random.default_rng(draw(st.integers(0, 99))).uniform(0, 640, (frames, joints, 2))
    if coords == "huge":
        keypoints[..., 0] = 1e300
    elif coords == "nan":
        keypoints[::2] = np.nan
    elif coords == "inf":
        keypoints[:1] = np.inf
    elif coords == "strings":
        keypoints = keypoints.astype(str)
    elif coords == "random":
        keypoints = _array(draw)
    arrays = {"keypoints_2d": keypoints}
    for name in draw(st.sets(st.sampled_from(["image_size", "confidence", "valid", "fps", "layout", "units"]))):
        arrays[name] = draw(st.one_of(st.just(_array(draw)), st.sampled_from([
            np.array([640, 480]), np.array([np.inf, 480]), np.array(["640", "480"]), np.array(30.0),
            np.array("coco17"), np.array("pixels"), np.ones(frames, bool), np.ones((frames, joints))])))
    buffer = io.BytesIO()
    (np.savez_compressed if draw(st.booleans()) else np.savez)(buffer, **arrays)
    data = buffer.getvalue()
    return _mutate(data, draw) if draw(st.integers(0, 3)) == 0 else data


def _check_keypoint_result(result) -> None:
    for frame in result.frames:
        for detection in frame:
            assert np.isfinite(detection.keypoints).all() and np.abs(detection.keypoints).max(initial=0) <= 1e6
            assert ((detection.scores >= 0) & (detection.scores <= 1)).all()


def check_keypoint_npz(data) -> None:
    payload = _keypoint_npz(data.draw)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / data.draw(st.sampled_from(["kp.npz", "kp.npy"]))
        if path.suffix == ".npy":
            buffer = io.BytesIO()
            np.save(buffer, _array(data.draw), allow_pickle=False)
            payload = buffer.getvalue() if data.draw(st.booleans()) else _mutate(buffer.getvalue(), data.draw)
        path.write_bytes(payload)
        lifted = holds("keypoints npz/npy (lift)", lambda: read_keypoints_npz(path), len(payload))
        if lifted is not None:
            keypoints, size = lifted
            assert keypoints.ndim == 3 and keypoints.shape[-1] == 2
            finite = keypoints[np.isfinite(keypoints)]
            assert np.isfinite(finite.astype(np.float32)).all()
        if path.suffix == ".npz":
            result = holds("keypoints npz (video)", lambda: read_keypoints(path), len(payload))
            if result is not None:
                _check_keypoint_result(result)


def _detection(draw, n: int) -> dict:
    joints = draw(st.sampled_from([17, 26, 133, 5]))
    style = draw(st.sampled_from(["valid", "values", "junk"]))
    if style == "valid":
        keypoints = np.random.default_rng(n).uniform(0, 500, joints * 3).round(2).tolist()
    elif style == "values":
        keypoints = draw(st.lists(NUMBERS | st.text(max_size=3), min_size=0, max_size=joints * 3))
    else:
        keypoints = draw(JSON_VALUES)
    entry = {"image_id": draw(st.one_of(st.integers(-5, 40), st.sampled_from([10**9, 10**12, 1e300, "a.jpg",
                                                                             "frame_000999999999.jpg"]),
                                        JSON_SCALARS)),
             "category_id": draw(st.sampled_from([1, "1", "person", 2, None])), "keypoints": keypoints}
    for key in draw(st.sets(st.sampled_from(["score", "bbox", "box", "idx", "track_id"]))):
        entry[key] = draw(JSON_VALUES)
    return entry


def check_json_keypoints(data) -> None:
    draw = data.draw
    kind = draw(st.sampled_from(["list", "annotations", "openpose", "anything"]))
    if kind == "list":
        document = [_detection(draw, n) for n in range(draw(st.integers(0, 5)))]
    elif kind == "annotations":
        document = {"images": draw(st.one_of(JSON_VALUES, st.just([{"id": 1, "width": 640, "height": 480}]))),
                    "annotations": [_detection(draw, n) for n in range(draw(st.integers(0, 4)))]}
    elif kind == "openpose":
        document = {"people": [{"pose_keypoints_2d": _detection(draw, n)["keypoints"]}
                               for n in range(draw(st.integers(0, 3)))]}
    else:
        document = draw(JSON_VALUES)
    text = json.dumps(document)
    if draw(st.integers(0, 4)) == 0:
        text = _mutate(text.encode(), draw).decode("latin-1")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "keypoints.json"
        path.write_text(text, encoding="utf-8")
        fmt = draw(st.sampled_from(["auto", "coco", "alphapose", "openpose"]))
        result = holds(f"JSON keypoints ({fmt})", lambda: read_keypoints(path, fmt), len(text))
        if result is not None:
            _check_keypoint_result(result)


def check_openpose_folder(data) -> None:
    draw = data.draw
    names = draw(st.lists(st.one_of(st.integers(0, 10**13).map(lambda n: f"clip_{n:012d}"), st.text(
        alphabet="abc_0123456789", min_size=1, max_size=12)), min_size=1, max_size=5, unique=True))
    with tempfile.TemporaryDirectory() as folder:
        total = 0
        for n, name in enumerate(names):
            people = [{"pose_keypoints_2d": _detection(draw, n)["keypoints"] if draw(st.booleans()) else
                       np.random.default_rng(n).uniform(0, 500, 75).round(1).tolist()}]
            text = json.dumps({"people": people})
            total += len(text)
            (Path(folder) / f"{name}_keypoints.json").write_text(text)
        result = holds("OpenPose folder", lambda: read_keypoints(folder), total)
        if result is not None:
            _check_keypoint_result(result)


VALID_BVH = """HIERARCHY
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
      OFFSET 0 10 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
0 90 0 0 0 0 5 0 0
0 91 0 1 0 0 6 0 0
"""


def check_bvh(data) -> None:
    draw = data.draw
    kind = draw(st.sampled_from(["tokens", "bytes", "deep", "header"]))
    text = VALID_BVH
    if kind == "tokens":
        tokens = text.split(" ")
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(tokens) - 1))
            tokens[at] = draw(st.one_of(st.text(max_size=6), NUMBERS.map(str), st.sampled_from(
                ["{", "}", "JOINT", "End", "CHANNELS", "MOTION", "nan", "inf", "1e400", "99999999999"])))
        text = " ".join(tokens)
    elif kind == "bytes":
        text = _mutate(text.encode(), draw).decode("latin-1")
    elif kind == "deep":
        depth = draw(st.integers(1, 2000))
        joints = "".join(f"JOINT j{i}\n{{\nOFFSET 0 1 0\n" for i in range(depth))
        text = ("HIERARCHY\nROOT r\n{\nOFFSET 0 0 0\nCHANNELS 3 Xrotation Yrotation Zrotation\n" + joints
                + "}\n" * depth + "}\nMOTION\nFrames: 1\nFrame Time: 0.04\n0 0 0\n")
    else:
        frames = draw(st.one_of(NUMBERS.map(str), st.sampled_from(["2", "1e18", "-1", "x"])))
        frame_time = draw(st.one_of(NUMBERS.map(str), st.sampled_from(["100000", "0", "1e-9", "nan"])))
        text = text.replace("Frames: 2", f"Frames: {frames}")
        text = text.replace("Frame Time: 0.0333333", f"Frame Time: {frame_time}")
    motion = holds("BVH", lambda: parse_bvh(text, "fuzz.bvh"), len(text))
    if motion is not None:
        assert np.isfinite(motion.motion).all() and 1e-4 <= motion.frame_time <= 1.0


def check_config(data) -> None:
    draw = data.draw
    kind = draw(st.sampled_from(["json", "toml", "overrides"]))
    keys = ["epochs", "batch_size", "max_windows_per_epoch", "model", "model.name", "model.channels", "data.kind",
            "data.fps", "optim.lr", "optim.betas", "loss.mpjpe", "seed", "base", "data.noise", "window_stride"]
    with tempfile.TemporaryDirectory() as folder:
        if kind == "json":
            document = draw(st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(keys), JSON_VALUES, max_size=5)))
            path = Path(folder) / "config.json"
            path.write_text(json.dumps(document))
            overrides: list[str] = []
        elif kind == "toml":
            values = st.sampled_from(["5", "-1", "1e400", "nan", '"x"', "[1, 2]", "true", "{a = 1}"])
            chosen = draw(st.lists(st.sampled_from(keys), max_size=5))
            lines = [f"{key.split('.')[-1]} = {draw(values)}" for key in chosen]
            path = Path(folder) / "config.toml"
            path.write_text("\n".join(lines) + "\n")
            overrides = []
        else:
            path = None
            overrides = [f"{draw(st.sampled_from(keys))}={draw(st.text(max_size=8))}"
                         for _ in range(draw(st.integers(1, 3)))]
        size = path.stat().st_size if path else sum(map(len, overrides))
        holds("training config", lambda: load_config(path, overrides), size)


def check_live_lines(data) -> None:
    draw = data.draw
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["valid", "value", "junk"]))
        item = {"keypoints": np.full((17, 2), 100.0).tolist(), "width": 640, "height": 480, "time": len(lines)}
        if kind == "value":
            item[draw(st.sampled_from(["keypoints", "width", "height", "time"]))] = draw(JSON_VALUES)
            lines.append(json.dumps(item))
        elif kind == "junk":
            lines.append(draw(st.text(max_size=30)).replace("\n", " "))
        else:
            lines.append(json.dumps(item))
    text = "\n".join(lines) + "\n"
    skipped = []
    frames = holds("live JSON lines", lambda: list(keypoint_lines(io.StringIO(text), on_bad_line=skipped.append)),
                   len(text))
    assert frames is not None  # with on_bad_line, a bad line is skipped, never raised
    for frame in frames:
        assert frame.keypoints.shape == (17, 2) and np.isfinite(frame.keypoints).all() and np.isfinite(frame.time)
    assert len(frames) + len(skipped) == sum(1 for line in lines if line.strip())
    for line in lines[:2]:
        holds("live JSON line", lambda line=line: parse_keypoint_line(line, "<stdin>", 1), len(line))


def _register(check, name: str) -> None:
    """The default (fast) test and the slow one for a property."""
    globals()[f"test_fuzz_{name}"] = fast(given(st.data())(check))
    globals()[f"test_fuzz_{name}_long"] = pytest.mark.slow(slow(given(st.data())(check)))


for _check, _name in ((check_keypoint_npz, "keypoint_npz"), (check_json_keypoints, "json_keypoints"),
                      (check_openpose_folder, "openpose_folder"), (check_bvh, "bvh"), (check_config, "config"),
                      (check_live_lines, "live_lines")):
    _register(_check, _name)


def test_mutated_zip_members_never_inflate_unchecked(tmp_path):
    """A forged .npz whose member declares a huge array is refused from its header, without allocating it."""
    path = tmp_path / "forged.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("keypoints_2d.npy", np.lib.format.magic(1, 0) + header.getvalue() + b"\0" * 64)
    assert holds("forged npz", lambda: read_keypoints_npz(path), path.stat().st_size) is None
