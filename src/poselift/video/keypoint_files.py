"""Importers for 2D keypoint files written by other tools, so any 2D detector can feed poselift.

Formats (auto-detected from the path and content):
- `coco`: COCO-style results JSON (Detectron2, MMPose, YOLO): a list of {image_id, category_id,
  keypoints [x, y, score] * J, score, bbox [x, y, w, h]}; also a COCO annotation file ({images, annotations}).
- `alphapose`: AlphaPose results JSON (the same list, image_id like "0.jpg", `idx` = track id, `box`),
  COCO-17, Halpe-26 or Halpe-136 (its first 26 points are used).
- `openpose`: a folder of OpenPose `*_keypoints.json` files, one per frame (`people[].pose_keypoints_2d`),
  BODY_25 or COCO-18; or one such file.
- `vp3d`: VideoPose3D's `data_2d_custom_*.npz` (positions_2d / metadata) or its Detectron2 detections
  npz (boxes / keypoints / metadata). These are pickled: open only files you trust.
- `npz`: our own npz (as `poselift lift` reads it): `keypoints_2d` (T, J, 2), pixels when `image_size` (2,)
  = (w, h) is given, else normalised screen coordinates; optional `confidence` (T, J), `valid` (T,),
  `layout` (a layout name, default h36m17 for 17 joints), `units` ("pixels"/"normalized") and `fps`.

Frame numbers come from image ids / file names ("frame_000012.jpg" -> 12); numbering is taken as 1-based
when the smallest number is 1 and none is 0. Frames in between without entries are frames with nobody.
A file is read into at most max(MIN_FRAME_SPAN, FRAMES_PER_ENTRY x its frames with entries) frames: a frame
number beyond that is refused, so a tiny file cannot claim a billion frames.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poselift.errors import InputError
from poselift.keypoints_io import check_coordinates, check_image_size, numeric_array
from poselift.video.layouts import Layout, get_layout, layout_for_joint_count

FORMATS = ("auto", "coco", "openpose", "alphapose", "vp3d", "npz")
MIN_FRAME_SPAN = 100_000
"""Frames any keypoint file may span (about an hour at 30 fps), however few of them have entries."""
FRAMES_PER_ENTRY = 100
"""Beyond MIN_FRAME_SPAN, the frames a file may span per frame that has entries."""
MAX_FPS = 1000.0


@dataclass
class Detection:
    """One person in one frame: keypoints (J, 2) pixels in the source layout, scores (J,) in [0, 1]."""

    keypoints: np.ndarray
    scores: np.ndarray
    track_id: int | None = None
    score: float | None = None
    bbox: np.ndarray | None = None
    """(4,) x0, y0, x1, y1 pixels when the source gave one."""
    world: np.ndarray | None = None
    """(J, 3) the detector's own 3D estimate (metres, hip-centred, MediaPipe's `pose_world_landmarks`,
    x right, y down, z away from the camera) when it gives one: the baseline a user already has."""


@dataclass
class KeypointFile:
    """Per-frame detections read from a file: `frames[t]` lists the people found in frame t."""

    source: Path
    format: str
    layout: Layout
    frames: list[list[Detection]]
    image_size: tuple[int, int] | None = None
    """(width, height) pixels when the file says."""
    fps: float | None = None
    notes: list[str] = field(default_factory=list)
    normalized: bool = False
    """True when keypoints are still normalised screen coordinates (an npz without image_size)."""

    @property
    def num_frames(self) -> int:
        return len(self.frames)


def read_keypoints(path: str | Path, format: str = "auto", layout: str | None = None) -> KeypointFile:
    """Read a 2D keypoint file or folder in any supported format (see module docstring).

    `layout` overrides the layout guessed from the joint count. Raises InputError naming the file and
    the problem when the file is missing or malformed.
    """
    path = Path(path)
    if format not in FORMATS:
        raise InputError(path, f"unknown keypoint format {format!r}; expected one of {', '.join(FORMATS)}")
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if format == "auto":
        format = detect_format(path)
    readers = {"coco": _read_json_list, "alphapose": _read_json_list, "openpose": _read_openpose,
               "vp3d": _read_vp3d, "npz": _read_npz}
    result = readers[format](path, format, layout)
    if not result.frames:
        raise InputError(path, "contains no frames")
    return result


def detect_format(path: Path) -> str:
    """Guess the keypoint file format from the path and a look at the content."""
    if path.is_dir():
        if any(path.glob("*_keypoints.json")) or any(path.glob("*.json")):
            return "openpose"
        raise InputError(path, "folder holds no OpenPose *_keypoints.json files")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        keys = _npz_keys(path)
        if "positions_2d" in keys or ("boxes" in keys and "keypoints" in keys):
            return "vp3d"
        if "keypoints_2d" in keys:
            return "npz"
        raise InputError(path, f"npz with keys {sorted(keys)}: expected keypoints_2d (ours) or "
                               "positions_2d / boxes+keypoints (VideoPose3D)")
    if suffix == ".json":
        data = _load_json(path)
        if isinstance(data, dict) and "people" in data:
            return "openpose"
        if isinstance(data, dict) and "annotations" in data:
            return "coco"
        if isinstance(data, list):
            if data and isinstance(data[0], dict) and ("idx" in data[0] or "box" in data[0]):
                return "alphapose"
            return "coco"
        raise InputError(path, "JSON is neither a COCO/AlphaPose results list nor an OpenPose frame")
    raise InputError(path, f"cannot tell the keypoint format of a {suffix or 'suffix-less'} file; "
                           "use --format")


def _npz_keys(path: Path) -> set[str]:
    from poselift.array_files import array_keys

    return array_keys(path)


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(path, f"cannot read ({error})") from None
    except json.JSONDecodeError as error:
        raise InputError(path, f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}") from None


def _frame_number(key) -> int | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, int | np.integer):
        return int(key)
    if isinstance(key, float) and key.is_integer() and abs(key) < 2**62:
        return int(key)
    numbers = re.findall(r"\d+", str(key))
    return int(numbers[-1]) if numbers else None


def _frame_indices(keys: list) -> dict:
    """Map each distinct image key to a frame index (numbers when every key has one, else sorted order)."""
    distinct = list(dict.fromkeys(keys))
    if not distinct:
        return {}
    numbers = {key: _frame_number(key) for key in distinct}
    if all(n is not None for n in numbers.values()) and len(set(numbers.values())) == len(distinct):
        offset = 1 if min(numbers.values()) == 1 else 0
        return {key: n - offset for key, n in numbers.items()}
    return {key: i for i, key in enumerate(sorted(distinct, key=str))}


def _frames_from(per_frame: dict[int, list[Detection]], source: Path) -> list[list[Detection]]:
    """Frames 0..last, empty where the file has no entry; the span is checked against the entries first."""
    if not per_frame:
        return []
    first, last = min(per_frame), max(per_frame)
    if first < 0:
        raise InputError(source, f"negative frame number {first}")
    limit = max(MIN_FRAME_SPAN, FRAMES_PER_ENTRY * len(per_frame))
    if last >= limit:
        raise InputError(source, f"frame number {last:,} is beyond the {limit:,} frames a file with "
                                 f"{len(per_frame):,} frames of entries may span (image ids or file names wrong?)")
    return [per_frame.get(t, []) for t in range(last + 1)]


def _track_id(value) -> int | None:
    if isinstance(value, list | tuple):
        value = value[0] if len(value) else None
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return None if number < 0 else number


def _pick_layout(source: Path, count: int, layout: str | None, what: str) -> tuple[Layout, int]:
    """The layout for `count` values per person and how many of them to use (a prefix for whole-body sets)."""
    if layout is not None:
        try:
            chosen = get_layout(layout)
        except KeyError as error:
            raise InputError(source, str(error.args[0])) from None
        if count < chosen.num_joints:
            raise InputError(source, f"{what}: layout {chosen.name} needs {chosen.num_joints} joints, found {count}")
        return chosen, chosen.num_joints
    prefixes = {133: "coco17", 136: "halpe26"}  # COCO-WholeBody, Halpe-136: body points come first
    if count in prefixes:
        chosen = get_layout(prefixes[count])
        return chosen, chosen.num_joints
    chosen = layout_for_joint_count(count)
    if chosen is None:
        raise InputError(source, f"{what}: {count} joints per person matches no known layout "
                                 "(17 COCO, 26 Halpe, 25 BODY_25, 18 COCO-18, 33 MediaPipe, 136, 133)")
    return chosen, count


def _triplets(values, source: Path, where: str) -> np.ndarray:
    try:
        array = np.asarray(values)
    except ValueError:  # ragged nesting
        array = np.asarray([], dtype=object)
    if array.ndim != 1 or array.size % 3 or array.size == 0 or array.dtype == object:
        raise InputError(source, f"{where}: keypoints must be a flat list of x, y, score triplets, "
                                 f"found {array.size if array.dtype != object else 'a nested or mixed list of'} "
                                 "values")
    array = numeric_array(array, source, f"{where}: keypoints")
    if not np.isfinite(array).all():
        raise InputError(source, f"{where}: keypoints contain NaN or infinite values")
    return check_coordinates(array, source, f"{where}: keypoints").reshape(-1, 3)


def _bbox(value, source: Path, where: str) -> np.ndarray | None:
    """A bbox [x, y, w, h] as (4,) x0, y0, x1, y1 pixels, None when absent."""
    if value is None:
        return None
    try:
        box = numeric_array(value, source, f"{where}: bbox").reshape(-1)
    except ValueError:
        box = np.zeros(0)
    if box.size < 4 or not np.isfinite(box[:4]).all():
        raise InputError(source, f"{where}: bbox must be [x, y, width, height] numbers")
    x, y, w, h = check_coordinates(box[:4], source, f"{where}: bbox")
    return np.array([x, y, x + w, y + h])


def _image_key(value, source: Path, where: str):
    """An image id as given (text or a number); InputError for lists, objects and the like."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(source, f"{where}: image_id must be a number or a file name, found {type(value).__name__}")
    return value


def _normalise_scores(frames: list[list[Detection]]) -> list[str]:
    """Scores outside [0, 1] (logits, heatmap maxima) are divided by their 95th percentile, then clipped."""
    scores = [d.scores for frame in frames for d in frame]
    if not scores:
        return []
    flat = np.concatenate(scores)
    notes = []
    if flat.size and flat.max() > 1.0 + 1e-6:
        scale = float(np.percentile(flat[flat > 0], 95)) if (flat > 0).any() else 1.0
        for frame in frames:
            for d in frame:
                d.scores = d.scores / scale
        notes.append(f"keypoint scores above 1 were rescaled by 1/{scale:.3g}")
    for frame in frames:
        for d in frame:
            d.scores = np.clip(np.nan_to_num(d.scores, nan=0.0), 0.0, 1.0)
    return notes


def _read_json_list(path: Path, format: str, layout: str | None) -> KeypointFile:
    if path.is_dir():
        raise InputError(path, f"is a folder; the {format} format is one JSON file")
    data = _load_json(path)
    image_sizes = {}
    if isinstance(data, dict) and "annotations" in data:  # a COCO annotation file (ground truth)
        if not isinstance(data["annotations"], list) or not isinstance(data.get("images", []), list):
            raise InputError(path, "COCO annotation file: 'annotations' and 'images' must be lists")
        images = {_image_key(img.get("id"), path, f"images[{n}]"): img
                  for n, img in enumerate(data.get("images", [])) if isinstance(img, dict)}
        entries = []
        for n, ann in enumerate(data["annotations"]):
            if not isinstance(ann, dict):
                continue
            image = images.get(_image_key(ann.get("image_id"), path, f"annotations[{n}]"), {})
            key = image.get("file_name", ann.get("image_id"))
            if "width" in image and "height" in image:
                size = check_image_size([image["width"], image["height"]], path, f"annotations[{n}]: image size")
                image_sizes[(int(size[0]), int(size[1]))] = True
            entries.append({**ann, "image_id": key, "visibility_flags": True})
        data = entries
    if not isinstance(data, list):
        raise InputError(path, f"expected a JSON list of detections, found {type(data).__name__}")
    if not data:
        raise InputError(path, "the detection list is empty (nobody was detected)")
    keys = []
    for n, entry in enumerate(data):
        if not isinstance(entry, dict) or "keypoints" not in entry or "image_id" not in entry:
            raise InputError(path, f"entry {n}: expected an object with image_id and keypoints")
        if entry.get("category_id", 1) not in (1, "1", "person"):
            continue
        keys.append(_image_key(entry["image_id"], path, f"entry {n}"))
    index = _frame_indices(keys)
    per_frame: dict[int, list[Detection]] = {}
    chosen = None
    for n, entry in enumerate(data):
        if entry.get("category_id", 1) not in (1, "1", "person"):
            continue
        triplets = _triplets(entry["keypoints"], path, f"entry {n}")
        entry_layout, used = _pick_layout(path, len(triplets), layout, f"entry {n}")
        if chosen is None:
            chosen = entry_layout
        elif entry_layout.name != chosen.name:
            raise InputError(path, f"entry {n}: {len(triplets)} joints, earlier entries had {chosen.num_joints}")
        triplets = triplets[:used]
        scores = triplets[:, 2]
        if entry.get("visibility_flags"):
            scores = (scores > 0).astype(np.float64)
        bbox = _bbox(entry.get("bbox", entry.get("box")), path, f"entry {n}")
        detection = Detection(
            keypoints=triplets[:, :2].copy(), scores=scores.copy(),
            track_id=_track_id(entry.get("idx", entry.get("track_id"))),
            score=_score(entry.get("score")), bbox=bbox,
        )
        per_frame.setdefault(index[entry["image_id"]], []).append(detection)
    if chosen is None:
        raise InputError(path, "no person detections (category_id 1) in the file")
    frames = _frames_from(per_frame, path)
    notes = _normalise_scores(frames)
    size = next(iter(image_sizes)) if len(image_sizes) == 1 else None
    return KeypointFile(path, format, chosen, frames, image_size=size, notes=notes)


def _read_openpose(path: Path, format: str, layout: str | None) -> KeypointFile:
    if path.is_dir():
        files = sorted(path.glob("*_keypoints.json")) or sorted(path.glob("*.json"))
        if not files:
            raise InputError(path, "folder holds no OpenPose *_keypoints.json files")
    else:
        files = [path]
    names = [re.sub(r"_keypoints$", "", f.stem) for f in files]
    index = _frame_indices(names) if len(files) > 1 else {names[0]: 0}
    per_frame: dict[int, list[Detection]] = {}
    chosen = None
    for file, name in zip(files, names, strict=True):
        data = _load_json(file)
        if not isinstance(data, dict) or not isinstance(data.get("people"), list):
            raise InputError(file, "expected an OpenPose frame: an object with a 'people' list")
        detections = []
        for p, person in enumerate(data["people"]):
            if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
                raise InputError(file, f"people[{p}] has no pose_keypoints_2d")
            if not person["pose_keypoints_2d"]:
                continue
            triplets = _triplets(person["pose_keypoints_2d"], file, f"people[{p}].pose_keypoints_2d")
            entry_layout, used = _pick_layout(file, len(triplets), layout or _openpose_layout(len(triplets)),
                                              f"people[{p}]")
            if chosen is None:
                chosen = entry_layout
            elif entry_layout.name != chosen.name:
                raise InputError(file, f"people[{p}]: {len(triplets)} joints, other frames had {chosen.num_joints}")
            triplets = triplets[:used]
            scores = triplets[:, 2].copy()
            scores[(triplets[:, 0] == 0) & (triplets[:, 1] == 0)] = 0.0  # OpenPose writes 0, 0, 0 when missing
            detections.append(Detection(triplets[:, :2].copy(), scores, track_id=_track_id(person.get("person_id"))))
        per_frame[index[name]] = detections
    if chosen is None:
        raise InputError(path, f"no person in any of the {len(files)} OpenPose frame file(s)")
    frames = _frames_from(per_frame, path)
    return KeypointFile(path, "openpose", chosen, frames, notes=_normalise_scores(frames))


def _score(value) -> float | None:
    """A detection's score when it is a finite number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if np.isfinite(number) else None


def _openpose_layout(count: int) -> str | None:
    return {25: "body25", 18: "openpose_coco18"}.get(count)


def _read_vp3d(path: Path, format: str, layout: str | None) -> KeypointFile:
    from poselift.data.restricted_pickle import load_npz

    # VideoPose3D's files hold pickled dicts: read them without running arbitrary pickle code.
    data = load_npz(path, keys=("metadata", "positions_2d", "boxes", "keypoints"))
    try:
        metadata = data.get("metadata", {})
        if "positions_2d" in data:
            return _vp3d_custom(path, data["positions_2d"], metadata, layout)
        if "boxes" in data and "keypoints" in data:
            return _vp3d_detections(path, data["boxes"], data["keypoints"], metadata, layout)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as error:
        raise InputError(path, f"malformed VideoPose3D file ({type(error).__name__}: {error})") from None
    raise InputError(path, "expected VideoPose3D keys positions_2d+metadata or boxes+keypoints+metadata")


def _vp3d_custom(path: Path, positions: dict, metadata: dict, layout: str | None) -> KeypointFile:
    if not isinstance(positions, dict) or not positions:
        raise InputError(path, "positions_2d holds no video")
    if len(positions) > 1:
        raise InputError(path, f"holds {len(positions)} videos ({', '.join(sorted(positions))}); "
                               "split it or convert the one you want to our npz")
    name, cameras = next(iter(positions.items()))
    views = cameras.get("custom", next(iter(cameras.values()))) if isinstance(cameras, dict) else cameras
    keypoints = numeric_array(views[0], path, f"positions_2d[{name!r}]")
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise InputError(path, f"positions_2d[{name!r}]: expected (T, J, 2), found {keypoints.shape}")
    check_coordinates(keypoints, path, f"positions_2d[{name!r}]")
    layout_name = layout or {"coco": "coco17", "h36m": "h36m17"}.get(str(metadata.get("layout_name")), None)
    chosen, used = _pick_layout(path, keypoints.shape[1], layout_name, f"positions_2d[{name!r}]")
    size = None
    video_meta = metadata.get("video_metadata", {}).get(name, {}) if isinstance(metadata, dict) else {}
    if "w" in video_meta and "h" in video_meta:
        checked = check_image_size([video_meta["w"], video_meta["h"]], path, "video_metadata size")
        size = (int(checked[0]), int(checked[1]))
    frames = []
    for kp in keypoints[:, :used]:
        ok = np.isfinite(kp).all(-1)
        frames.append([Detection(np.nan_to_num(kp), ok.astype(np.float64))] if ok.any() else [])
    notes = ["VideoPose3D custom files carry no keypoint scores: every joint gets confidence 1"]
    return KeypointFile(path, "vp3d", chosen, frames, image_size=size, notes=notes)


def _vp3d_detections(path: Path, boxes, keypoints, metadata: dict, layout: str | None) -> KeypointFile:
    frames = []
    chosen = get_layout(layout or "coco17")
    for t in range(len(boxes)):
        frame_boxes = boxes[t][1] if len(boxes[t]) > 1 else np.zeros((0, 5))
        frame_kp = keypoints[t][1] if len(keypoints[t]) > 1 else np.zeros((0, 4, chosen.num_joints))
        detections = []
        for b, k in zip(np.asarray(frame_boxes), np.asarray(frame_kp), strict=False):
            k = numeric_array(k, path, f"frame {t}: keypoints")  # (4, J): x, y, logit, probability
            if k.shape != (4, chosen.num_joints):
                raise InputError(path, f"frame {t}: keypoints must be (4, {chosen.num_joints}), found {k.shape}")
            check_coordinates(k[:2], path, f"frame {t}: keypoints")
            detections.append(Detection(k[:2].T.copy(), k[3].copy(), score=float(b[4]) if len(b) > 4 else None,
                                        bbox=np.asarray(b[:4], dtype=np.float64)))
        frames.append(detections)
    size = None
    if "w" in metadata and "h" in metadata:
        checked = check_image_size([metadata["w"], metadata["h"]], path, "metadata size")
        size = (int(checked[0]), int(checked[1]))
    return KeypointFile(path, "vp3d", chosen, frames, image_size=size, notes=_normalise_scores(frames))


def _read_npz(path: Path, format: str, layout: str | None) -> KeypointFile:
    from poselift.keypoints_io import read_keypoint_arrays

    arrays = read_keypoint_arrays(path)
    keypoints = np.asarray(arrays["keypoints_2d"], dtype=np.float64)
    count = keypoints.shape[1]
    confidence = arrays.get("confidence")
    if confidence is None:
        confidence = np.ones(keypoints.shape[:2])
    confidence = numeric_array(confidence, path, "confidence")
    if confidence.shape != keypoints.shape[:2]:
        raise InputError(path, f"confidence: expected shape {keypoints.shape[:2]}, found {confidence.shape}")
    layout_name = layout or (str(arrays["layout"]) if "layout" in arrays else ("h36m17" if count == 17 else None))
    chosen, used = _pick_layout(path, count, layout_name, "keypoints_2d")
    size = (int(arrays["image_size"][0]), int(arrays["image_size"][1])) if "image_size" in arrays else None
    # As `poselift lift` reads it: pixels when image_size is given, else normalised screen coordinates.
    units = str(arrays["units"]) if "units" in arrays else ("pixels" if size is not None else "normalized")
    if units not in ("pixels", "normalized"):
        raise InputError(path, f"units: expected 'pixels' or 'normalized', found {units!r}")
    normalized = units == "normalized"
    if normalized and size is not None:
        from poselift.camera import image_coordinates

        keypoints = image_coordinates(keypoints, *size).astype(np.float64)
        normalized = False
    valid = arrays.get("valid")
    if valid is not None:
        valid = numeric_array(np.asarray(valid).astype(np.int8) if np.asarray(valid).dtype == bool else valid,
                              path, "valid")
        if valid.shape != (len(keypoints),):
            raise InputError(path, f"valid: expected shape ({len(keypoints)},), found {valid.shape}")
    frames = []
    for t in range(len(keypoints)):
        if valid is not None and not bool(valid[t]):
            frames.append([])
            continue
        ok = np.isfinite(keypoints[t, :used]).all(-1)
        if not ok.any():
            frames.append([])
            continue
        frames.append([Detection(np.nan_to_num(keypoints[t, :used]), np.where(ok, confidence[t, :used], 0.0))])
    fps = _fps(arrays["fps"], path) if "fps" in arrays else None
    return KeypointFile(path, "npz", chosen, frames, image_size=size, fps=fps, notes=_normalise_scores(frames),
                        normalized=normalized)


def _fps(value, source: Path) -> float:
    """A frame rate from a file: one finite number in (0, MAX_FPS]."""
    rate = numeric_array(value, source, "fps").reshape(-1)
    if rate.shape != (1,) or not 0 < rate[0] <= MAX_FPS:
        raise InputError(source, f"fps must be one number in (0, {MAX_FPS:g}], found {rate.tolist()[:4]}")
    return float(rate[0])
