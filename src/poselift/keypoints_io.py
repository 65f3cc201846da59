"""Reading poselift's own 2D keypoint files: an .npz with `keypoints_2d` (T, J, 2) and optional extras."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from poselift.errors import InputError


def read_keypoint_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of a keypoint .npz, with `keypoints_2d` (T, J, 2) and `image_size` (width, height) > 0 checked.

    The one reader of our keypoint files: `poselift lift` uses `read_keypoints_npz`, the video importer
    (poselift.video.keypoint_files) the extras (confidence, layout, units, valid, fps).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise InputError(path, f"not a readable .npz file ({error})") from None
    if "keypoints_2d" not in arrays:
        raise InputError(path, f"no 'keypoints_2d' array (found: {', '.join(sorted(arrays)) or 'nothing'})")
    keypoints = arrays["keypoints_2d"]
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise InputError(path, f"keypoints_2d: expected shape (T, J, 2), found {keypoints.shape}")
    if "image_size" in arrays:
        size = np.asarray(arrays["image_size"], dtype=float).reshape(-1)
        if size.shape != (2,) or not (size > 0).all():
            raise InputError(path, f"image_size must be (width, height) > 0, found {size.tolist()}")
        arrays["image_size"] = size
    return arrays


def read_keypoints_npz(path: str | Path) -> tuple[np.ndarray, tuple[float, float] | None]:
    """(keypoints_2d (T, J, 2), image_size (width, height) or None). Pixels when image_size is present."""
    arrays = read_keypoint_arrays(path)
    size = arrays.get("image_size")
    return arrays["keypoints_2d"], (float(size[0]), float(size[1])) if size is not None else None
