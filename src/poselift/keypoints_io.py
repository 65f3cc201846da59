"""Reading poselift's own 2D keypoint input, and the checks every 2D keypoint reader shares.

- files: an .npz with `keypoints_2d` (T, J, 2) and optional extras, or a bare .npy array (T, J, 2) of
  normalised screen coordinates (`read_keypoint_arrays`, `read_keypoints_npz`: `poselift lift`, and the
  video importer's npz format);
- a stream: one JSON line per frame (`parse_keypoint_line`: `poselift live`, which reads line by line).
Other tools' files (COCO, OpenPose, AlphaPose, VideoPose3D) are `poselift.video.keypoint_files`'s, with these
same checks (`numeric_array`, `check_coordinates`, `check_image_size`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from poselift.camera import normalize_screen_coordinates
from poselift.errors import InputError

MAX_COORDINATE = 1e6
"""Largest |x| or |y| accepted: pixels of any real image, or normalised coordinates, lie far inside it."""
MAX_IMAGE_SIDE = 100_000
"""Largest image width or height accepted, pixels."""


def numeric_array(value, source: str | Path, name: str) -> np.ndarray:
    """`value` as a float64 array; InputError naming `name` when it holds text, objects or bools."""
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(source, f"{name}: expected numbers, found dtype {array.dtype}")
    return array.astype(np.float64)


def check_coordinates(array: np.ndarray, source: str | Path, name: str) -> np.ndarray:
    """Refuse finite coordinates beyond MAX_COORDINATE (they overflow or mean nothing in float32)."""
    finite = np.isfinite(array)
    if (np.abs(array[finite]) > MAX_COORDINATE).any():
        worst = float(np.abs(array[finite]).max())
        raise InputError(source, f"{name}: coordinate {worst:.3g} is out of range (|value| <= {MAX_COORDINATE:g})")
    return array


def check_image_size(value, source: str | Path, name: str = "image_size") -> np.ndarray:
    """(width, height) as float64, both finite, > 0 and at most MAX_IMAGE_SIDE pixels."""
    size = numeric_array(value, source, name).reshape(-1)
    if size.shape != (2,) or not np.isfinite(size).all() or not ((size > 0) & (size <= MAX_IMAGE_SIDE)).all():
        raise InputError(source, f"{name} must be (width, height) in 1..{MAX_IMAGE_SIDE} pixels, "
                                 f"found {size.tolist()[:4]}")
    return size


def read_keypoint_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of a keypoint .npz, with `keypoints_2d` (T, J, 2) and `image_size` (width, height) > 0 checked.

    The one reader of our keypoint files: `poselift lift` uses `read_keypoints_npz`, the video importer
    (poselift.video.keypoint_files) the extras (confidence, layout, units, valid, fps). A bare .npy holds
    keypoints_2d alone (normalised screen coordinates).
    """
    from poselift.array_files import load_arrays

    path = Path(path)
    arrays = load_arrays(path)
    if set(arrays) == {"array"} and path.suffix.lower() == ".npy":
        arrays = {"keypoints_2d": arrays["array"]}
    if "keypoints_2d" not in arrays:
        raise InputError(path, f"no 'keypoints_2d' array (found: {', '.join(sorted(arrays)) or 'nothing'})")
    keypoints = arrays["keypoints_2d"]
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise InputError(path, f"keypoints_2d: expected shape (T, J, 2), found {keypoints.shape}")
    arrays["keypoints_2d"] = check_coordinates(numeric_array(keypoints, path, "keypoints_2d"), path, "keypoints_2d")
    if "image_size" in arrays:
        arrays["image_size"] = check_image_size(arrays["image_size"], path)
    return arrays


def read_keypoints_npz(path: str | Path) -> tuple[np.ndarray, tuple[float, float] | None]:
    """(keypoints_2d (T, J, 2), image_size (width, height) or None). Pixels when image_size is present."""
    arrays = read_keypoint_arrays(path)
    size = arrays.get("image_size")
    return arrays["keypoints_2d"], (float(size[0]), float(size[1])) if size is not None else None


def parse_keypoint_line(line: str, source: str | Path = "<stdin>", number: int = 0) -> np.ndarray:
    """A JSON line {"keypoints": [[x, y] x 17], "width": W, "height": H} (pixels) or without width and
    height (already normalised screen coordinates) -> (17, 2) normalised screen coordinates."""
    where = f"line {number}: " if number else ""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(source, f"{where}not JSON: {error.msg}") from None
    keypoints = item.get("keypoints") if isinstance(item, dict) else item
    try:
        array = np.asarray(keypoints)
    except (TypeError, ValueError):
        array = np.zeros(0, dtype=object)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(source, f"{where}keypoints must be a list of [x, y] number pairs")
    array = array.astype(np.float64)
    if array.shape != (17, 2):
        raise InputError(source, f"{where}expected 17 keypoints [x, y], found shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(source, f"{where}keypoints contain NaN or infinite values")
    if np.abs(array).max() > MAX_COORDINATE:
        raise InputError(source, f"{where}keypoints out of range (|value| <= {MAX_COORDINATE:g})")
    if isinstance(item, dict) and "width" in item and "height" in item:
        width, height = (json_number(item[key], source, f"{where}{key}") for key in ("width", "height"))
        if not (1 <= width <= MAX_IMAGE_SIDE and 1 <= height <= MAX_IMAGE_SIDE):
            raise InputError(source, f"{where}width and height must be positive: 1 to {MAX_IMAGE_SIDE} pixels")
        array = normalize_screen_coordinates(array, width, height)
    return array


def json_number(value: Any, source: str | Path, what: str) -> float:
    """A finite JSON number (not text, not a boolean), as float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(float(value)):
        raise InputError(source, f"{what} must be a finite number, found {value!r}"[:200])
    return float(value)
