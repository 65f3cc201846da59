"""VideoPose3D's custom 2D detection files (`data_2d_custom_<name>.npz`) as plain arrays.

Layout: `positions_2d[video]['custom'][0]` (T, J, 2) pixels and `metadata` with `layout_name` (usually
'coco': COCO keypoint order, not Human3.6M's), `num_joints`, `keypoints_symmetry` and
`video_metadata[video]` = {'w': width, 'h': height}. Read with the restricted unpickler.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from poselift.data.restricted_pickle import load_npz
from poselift.errors import InputError


@dataclass
class CustomVideo:
    """One video's 2D detections: keypoints (T, J, 2) float32 pixels, the frame size and the joint layout."""

    name: str
    keypoints: np.ndarray
    width: int
    height: int
    layout_name: str | None


def load_custom_detections(path: str | Path) -> dict[str, CustomVideo]:
    """Every video of a VideoPose3D custom detections file: {video name: CustomVideo}."""
    path = Path(path)
    loaded = load_npz(path, ["positions_2d", "metadata"], required=["positions_2d", "metadata"])
    positions, metadata = loaded["positions_2d"], loaded["metadata"]
    if not isinstance(positions, dict) or not positions:
        raise InputError(path, "'positions_2d' must be a non-empty dict of videos")
    if not isinstance(metadata, dict):
        raise InputError(path, "'metadata' must be a dict")
    sizes: Any = metadata.get("video_metadata")
    if not isinstance(sizes, dict):
        raise InputError(path, "metadata has no 'video_metadata' (frame size of each video)")
    layout = metadata.get("layout_name")
    declared = metadata.get("num_joints")
    out: dict[str, CustomVideo] = {}
    for name, sources in positions.items():
        if not isinstance(sources, dict) or "custom" not in sources:
            raise InputError(path, f"positions_2d[{name!r}] has no 'custom' entry")
        views = sources["custom"]
        if not isinstance(views, (list, tuple)) or not views:
            raise InputError(path, f"positions_2d[{name!r}]['custom'] must be a list with one array")
        keypoints = np.asarray(views[0])
        if keypoints.ndim != 3 or keypoints.shape[-1] < 2 or not np.issubdtype(keypoints.dtype, np.number):
            raise InputError(path, f"positions_2d[{name!r}]: expected (T, J, 2) pixels, found {keypoints.shape}")
        if declared is not None and keypoints.shape[1] != int(declared):
            raise InputError(path, f"positions_2d[{name!r}]: {keypoints.shape[1]} joints, metadata says {declared}")
        size = sizes.get(name)
        if not isinstance(size, dict) or "w" not in size or "h" not in size:
            raise InputError(path, f"metadata['video_metadata'] has no width/height for {name!r}")
        width, height = int(size["w"]), int(size["h"])
        if width <= 0 or height <= 0:
            raise InputError(path, f"video {name!r}: bad frame size {width}x{height}")
        out[str(name)] = CustomVideo(
            str(name), keypoints[..., :2].astype(np.float32), width, height, None if layout is None else str(layout)
        )
    return out


def save_custom_detections(
    path: str | Path, videos: dict[str, CustomVideo], keypoints_symmetry: list[list[int]] | None = None
) -> None:
    """Write videos in VideoPose3D's custom layout (for interchange with tools that read it)."""
    from poselift.atomic import save_npz_atomic

    if not videos:
        raise InputError(path, "no videos to write")
    first = next(iter(videos.values()))
    metadata: dict[str, Any] = {
        "layout_name": first.layout_name,
        "num_joints": int(first.keypoints.shape[1]),
        "keypoints_symmetry": keypoints_symmetry or [[], []],
        "video_metadata": {name: {"w": v.width, "h": v.height} for name, v in videos.items()},
    }
    positions = {name: {"custom": [np.asarray(v.keypoints, dtype=np.float32)]} for name, v in videos.items()}
    save_npz_atomic(path, positions_2d=positions, metadata=metadata)
