"""Reading poselift's own 2D keypoint files: an .npz with `keypoints_2d` (T, J, 2) and optional extras."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from poselift.errors import InputError


def read_keypoints_npz(path: str | Path) -> tuple[np.ndarray, tuple[float, float] | None]:
    """(keypoints_2d (T, J, 2), image_size (width, height) or None). Pixels when image_size is present."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "keypoints_2d" not in data.files:
                raise InputError(path, f"no 'keypoints_2d' array (found: {', '.join(data.files) or 'nothing'})")
            keypoints = data["keypoints_2d"]
            image_size = data["image_size"] if "image_size" in data.files else None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise InputError(path, f"not a readable .npz file ({error})") from None
    if image_size is not None:
        image_size = np.asarray(image_size, dtype=float).reshape(-1)
        if image_size.shape != (2,) or not (image_size > 0).all():
            raise InputError(path, f"image_size must be (width, height) > 0, found {image_size.tolist()}")
        image_size = (float(image_size[0]), float(image_size[1]))
    return keypoints, image_size
