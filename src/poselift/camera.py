"""Camera conventions: screen-coordinate normalisation (VideoPose3D's), projection, world <-> camera."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from poselift.geometry.quaternions import to_matrix as quaternion_to_matrix


def normalize_screen_coordinates(xy: np.ndarray, width: float, height: float) -> np.ndarray:
    """Pixels -> normalised screen coordinates: x/w*2-1, y/w*2-h/w (x in [-1, 1], aspect kept). (..., 2)."""
    xy = np.asarray(xy, dtype=np.float32)
    return xy / width * 2 - np.array([1.0, height / width], dtype=np.float32)


def image_coordinates(xy: np.ndarray, width: float, height: float) -> np.ndarray:
    """Normalised screen coordinates -> pixels; the inverse of normalize_screen_coordinates. (..., 2)."""
    xy = np.asarray(xy, dtype=np.float32)
    return (xy + np.array([1.0, height / width], dtype=np.float32)) * width / 2


# --------------------------------------------------------------------------------------------- cameras


@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera with optional Human3.6M-style lens distortion.

    R: (3, 3) rotation world -> camera; t: (3,) metres, so that X_cam = R @ X_world + t. The camera frame is
    x right, y down, z forward (the direction the camera looks). focal (fx, fy) and centre (cx, cy) in
    pixels (NaN focal = intrinsics unknown); width, height: image size in pixels; k: (3,) radial and
    p: (2,) tangential distortion coefficients, or None for an ideal lens.
    """

    R: np.ndarray
    t: np.ndarray
    focal: tuple[float, float]
    centre: tuple[float, float]
    width: int
    height: int
    k: np.ndarray | None = None
    p: np.ndarray | None = None
    name: str = ""

    @property
    def position(self) -> np.ndarray:
        """The camera centre in world coordinates, (3,) metres."""
        return -np.asarray(self.R).T @ np.asarray(self.t)

    @property
    def horizontal_fov(self) -> float:
        """Horizontal field of view in degrees."""
        return float(np.degrees(2 * np.arctan2(self.width / 2, self.focal[0])))

    def world_to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """(..., 3) world metres -> (..., 3) camera-frame metres."""
        return world_to_camera(points_world, self)

    def project(self, points_cam: np.ndarray, distort: bool = True) -> np.ndarray:
        """(..., 3) camera-frame points -> (..., 2) pixels."""
        return project(points_cam, self, distort)

    def params(self) -> dict[str, Any]:
        """A plain dict (focal, centre, width, height, R, t, k, p, name) for PoseSequence.camera_params."""
        out: dict[str, Any] = {
            "focal": np.asarray(self.focal, dtype=np.float32),
            "centre": np.asarray(self.centre, dtype=np.float32),
            "width": int(self.width),
            "height": int(self.height),
            "R": np.asarray(self.R, dtype=np.float32),
            "t": np.asarray(self.t, dtype=np.float32),
            "name": self.name,
        }
        if self.k is not None:
            out["k"] = np.asarray(self.k, dtype=np.float32)
        if self.p is not None:
            out["p"] = np.asarray(self.p, dtype=np.float32)
        return out


def world_to_camera(points_world: np.ndarray, camera: Camera) -> np.ndarray:
    """World points (..., 3) metres -> camera frame (..., 3) metres: X_cam = R @ X + t."""
    points = np.asarray(points_world)
    return points @ np.asarray(camera.R, dtype=points.dtype).T + np.asarray(camera.t, dtype=points.dtype)


def camera_to_world(points_cam: np.ndarray, camera: Camera) -> np.ndarray:
    """Camera-frame points (..., 3) metres -> world (..., 3) metres: X = R^T (X_cam - t)."""
    points = np.asarray(points_cam)
    return (points - np.asarray(camera.t, dtype=points.dtype)) @ np.asarray(camera.R, dtype=points.dtype)


def distort(xy: np.ndarray, k: np.ndarray | None, p: np.ndarray | None) -> np.ndarray:
    """Human3.6M's lens model on normalised image coordinates (x/z, y/z), (..., 2) -> (..., 2).

    radial = 1 + k1 r^2 + k2 r^4 + k3 r^6; tangential as in the Human3.6M code:
    xy' = xy * (radial + p . xy) + p * r^2.
    """
    r2 = np.sum(xy**2, axis=-1, keepdims=True)
    scale = np.ones_like(r2)
    if k is not None:
        k = np.asarray(k, dtype=xy.dtype)
        scale = scale + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    if p is None:
        return xy * scale
    p = np.asarray(p, dtype=xy.dtype)
    return xy * (scale + np.sum(p * xy, axis=-1, keepdims=True)) + p * r2


def project(points_cam: np.ndarray, camera: Camera, distort_lens: bool = True) -> np.ndarray:
    """Camera-frame points (..., 3) metres -> pixels (..., 2); applies the lens distortion if the camera has one.

    Points must be in front of the camera (z > 0); behind it the result is meaningless.
    """
    points = np.asarray(points_cam)
    if points.dtype.kind != "f":
        points = points.astype(np.float64)
    focal = np.asarray(camera.focal, dtype=points.dtype)
    if not np.all(np.isfinite(focal)):
        raise ValueError(f"camera {camera.name!r} has no intrinsics (focal length unknown)")
    xy = points[..., :2] / points[..., 2:3]
    if distort_lens and (camera.k is not None or camera.p is not None):
        xy = distort(xy, camera.k, camera.p)
    return xy * focal + np.asarray(camera.centre, dtype=points.dtype)


def camera_from_quaternion(
    orientation: np.ndarray,
    translation: np.ndarray,
    width: int,
    height: int,
    focal: tuple[float, float] | None = None,
    centre: tuple[float, float] | None = None,
    k: np.ndarray | None = None,
    p: np.ndarray | None = None,
    name: str = "",
) -> Camera:
    """A Camera from Human3.6M-style extrinsics: orientation (w, x, y, z) takes camera vectors to world
    vectors, translation is the camera centre in world metres. focal None = unknown (NaN)."""
    r_cam_to_world = quaternion_to_matrix(orientation)
    R = r_cam_to_world.T
    t = -R @ np.asarray(translation, dtype=np.float64)
    return Camera(
        R=R, t=t,
        focal=(float("nan"), float("nan")) if focal is None else (float(focal[0]), float(focal[1])),
        centre=(width / 2.0, height / 2.0) if centre is None else (float(centre[0]), float(centre[1])),
        width=int(width), height=int(height),
        k=None if k is None else np.asarray(k, dtype=np.float64),
        p=None if p is None else np.asarray(p, dtype=np.float64),
        name=name,
    )


def look_at(position: np.ndarray, target: np.ndarray, up: np.ndarray = (0.0, 1.0, 0.0)) -> np.ndarray:
    """World->camera rotation (3, 3) of a camera at `position` looking at `target`, image y along -up.

    Raises ValueError when the viewing direction is parallel to `up`.
    """
    forward = np.asarray(target, dtype=np.float64) - np.asarray(position, dtype=np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=np.float64))
    norm = np.linalg.norm(right)
    if norm < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to the up vector")
    right /= norm
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


H36M_CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
"""The four Human3.6M cameras, in the dataset's usual order."""


def load_h36m_cameras() -> dict[str, list[Camera]]:
    """The 4 calibrated Human3.6M cameras per subject (S1, S5-S9, S11), world metres with Z up, 50 fps video.

    Numbers from Human3.6M as listed by VideoPose3D (see docs/data.md); image sizes 1000x1000 or 1000x1002.
    """
    path = Path(__file__).resolve().parent / "data" / "h36m_cameras.json"
    spec = json.loads(path.read_text(encoding="utf-8"))
    intrinsics = spec["cameras"]
    out: dict[str, list[Camera]] = {}
    for subject, views in spec["extrinsics"].items():
        out[subject] = [
            camera_from_quaternion(
                orientation=np.array(view["orientation"]),
                translation=np.array(view["translation"]) / 1000.0,
                width=cam["width"], height=cam["height"],
                focal=cam["focal_length"], centre=cam["center"],
                k=cam["radial_distortion"], p=cam["tangential_distortion"],
                name=cam["id"],
            )
            for cam, view in zip(intrinsics, views, strict=True)
        ]
    return out
