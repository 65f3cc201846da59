"""Global trajectory: where the person's root is in the camera frame, and where the floor is.

The lifter gives root-relative poses (metres). With a focal length f (pixels) and principal point c, the
root translation t = (tx, ty, tz) that makes the pose P_j + t project onto the 2D keypoints x_j solves, per
joint, (x_j - c)/f * (Z_j + tz) = (X_j, Y_j) + (tx, ty): linear in t. That weighted least-squares solution
(closed form, exact without noise) starts a few Gauss-Newton steps on the reprojection error itself.
Over time the root's image position (tx/tz, ty/tz) is smoothed lightly and the depth tz more.

The floor (one per static camera, from every person's contacts: `fit_ground_people`): feet in contact are
the lower ankle of each frame when it is slow, and only ankles that were seen count (joints synthesised
for legs out of the picture have confidence 0 and never place the floor); a plane through them
(principal axes) gives the up direction when the contacts spread over an area, the body axis completes it
when they lie on a line, and the body axis (or the camera's up, for half-body video) stands in when no
foot is seen. The world frame has Y up, origin on the floor under the first root position, X along the
camera's x axis projected onto the floor, Z = X x Y (towards the camera): right-handed, metres.

Feet on the floor (`ground_feet`): each person's root is then moved along the floor normal so that the
lower ankle of a contact frame is ANKLE_HEIGHT above the floor, contacts in between are interpolated, and
in frames whose feet were not seen (entering, leaving, cut by the border) the pelvis keeps the height it
had over the floor in that person's contact frames: people neither rise nor sink as their legs leave the
picture. The correction is smoothed over 0.1 s; a seen foot is never left more than 1 cm below the floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_HFOV_DEG = 60.0
"""Horizontal field of view assumed when the focal length is unknown (typical webcams and phones: 55-70°)."""

ANKLE_HEIGHT = 0.08
"""Height of the Human3.6M ankle joint above the floor with the foot flat (metres)."""

PELVIS, R_ANKLE, L_ANKLE, THORAX, NECK, HEAD = 0, 3, 6, 8, 9, 10


def default_focal(width: float, hfov_deg: float = DEFAULT_HFOV_DEG) -> float:
    """Focal length in pixels for an image `width` pixels wide with the given horizontal field of view."""
    return float(width / 2 / math.tan(math.radians(hfov_deg) / 2))


def project(points: np.ndarray, focal: float, centre: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points (..., 3) metres -> (..., 2) pixels."""
    points = np.asarray(points, dtype=np.float64)
    z = np.maximum(points[..., 2:3], 1e-6)
    return points[..., :2] / z * focal + np.asarray(centre, dtype=np.float64)


def solve_root(
    pose: np.ndarray, keypoints: np.ndarray, weights: np.ndarray, focal: float, centre: np.ndarray,
    iterations: int = 5,
) -> np.ndarray:
    """Root translation (3,) metres so that pose (J, 3) + t projects onto keypoints (J, 2) pixels.

    Weights (J,) >= 0 (confidences). Returns NaNs when fewer than 3 joints have weight.
    """
    w = np.asarray(weights, dtype=np.float64)
    if (w > 0).sum() < 3:
        return np.full(3, np.nan)
    uv = (np.asarray(keypoints, dtype=np.float64) - centre) / focal  # normalised image coordinates
    X, Y, Z = np.asarray(pose, dtype=np.float64).T
    num = len(w)
    # Linear system A t = b: rows  [1, 0, -u] t = u Z - X  and  [0, 1, -v] t = v Z - Y.
    A = np.zeros((2 * num, 3))
    A[:num, 0] = 1
    A[:num, 2] = -uv[:, 0]
    A[num:, 1] = 1
    A[num:, 2] = -uv[:, 1]
    b = np.concatenate([uv[:, 0] * Z - X, uv[:, 1] * Z - Y])
    sw = np.sqrt(np.concatenate([w, w]))
    t, *_ = np.linalg.lstsq(A * sw[:, None], b * sw, rcond=None)
    if not np.isfinite(t).all() or t[2] + Z.min() <= 0.05:  # behind the camera: weak-perspective fallback
        t = _weak_perspective(pose, uv, w)
    for _ in range(iterations):
        depth = np.maximum(Z + t[2], 0.05)
        pu, pv = (X + t[0]) / depth, (Y + t[1]) / depth
        residual = np.concatenate([pu - uv[:, 0], pv - uv[:, 1]]) * sw
        J = np.zeros((2 * num, 3))
        J[:num, 0] = 1 / depth
        J[:num, 2] = -pu / depth
        J[num:, 1] = 1 / depth
        J[num:, 2] = -pv / depth
        J *= sw[:, None]
        step, *_ = np.linalg.lstsq(J, -residual, rcond=None)
        t = t + step
        if np.abs(step).max() < 1e-6:
            break
    return t


def _weak_perspective(pose: np.ndarray, uv: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Scale and shift of the orthographic projection fitting the 2D points: depth = 1 / scale."""
    wn = w / w.sum()
    mean3, mean2 = (pose[:, :2] * wn[:, None]).sum(0), (uv * wn[:, None]).sum(0)
    spread3 = np.sqrt((wn * ((pose[:, :2] - mean3) ** 2).sum(1)).sum())
    spread2 = np.sqrt((wn * ((uv - mean2) ** 2).sum(1)).sum())
    tz = spread3 / max(spread2, 1e-9)
    return np.array([mean2[0] * tz - mean3[0], mean2[1] * tz - mean3[1], tz])


def solve_trajectory(
    poses: np.ndarray, keypoints: np.ndarray, weights: np.ndarray, focal: float, centre: np.ndarray,
) -> np.ndarray:
    """Per-frame root translations (T, 3) metres (NaN where unsolvable) for poses (T, J, 3) root-relative."""
    return np.stack([solve_root(p, k, w, focal, centre) for p, k, w in zip(poses, keypoints, weights, strict=True)])


def smooth_signal(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing over axis 0 of complete values (T, C), sigma in frames. The ends are padded by
    point reflection (2 x_0 - x_k), so a linear trend passes through unbiased."""
    values = np.asarray(values, dtype=np.float64)
    if sigma <= 0 or len(values) < 2:
        return values.copy()
    radius = min(max(1, int(3 * sigma)), len(values) - 1)  # a short signal truncates the kernel
    head = 2 * values[:1] - values[radius:0:-1]
    tail = 2 * values[-1:] - values[-2 : -radius - 2 : -1]
    padded = np.concatenate([head, values, tail])
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    return np.column_stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(values.shape[1])])


def smooth_trajectory(
    trajectory: np.ndarray, fps: float, position_sigma: float = 0.05, depth_sigma: float = 0.15
) -> np.ndarray:
    """Smooth root translations (T, 3) metres over time; NaN rows are filled from their neighbours.

    The image position of the root (tx/tz, ty/tz) is well measured and smoothed with `position_sigma`
    seconds; the depth tz, from the 2D scale, is noisier and smoothed with `depth_sigma` seconds.
    """
    trajectory = np.asarray(trajectory, dtype=np.float64)
    known = np.isfinite(trajectory).all(axis=1) & (trajectory[:, 2] > 0)
    if not known.any():
        raise ValueError("no frame has a root position")
    frames = np.arange(len(trajectory))
    # Image position of the root and log depth, unknown rows interpolated from known ones (edges held).
    tz = trajectory[known, 2]
    signals = np.column_stack([trajectory[known, 0] / tz, trajectory[known, 1] / tz, np.log(tz)])
    filled = np.column_stack([np.interp(frames, frames[known], signals[:, c]) for c in range(3)])
    image = smooth_signal(filled[:, :2], position_sigma * fps)
    depth = np.exp(smooth_signal(filled[:, 2:], depth_sigma * fps)[:, 0])
    return np.column_stack([image * depth[:, None], depth])


@dataclass(frozen=True)
class GroundFrame:
    """The world frame fitted to the floor: p_world = rotation @ (p_camera - origin), metres, Y up."""

    rotation: np.ndarray
    """(3, 3) world-from-camera rotation; its rows are the world X, Y (up), Z axes in camera coordinates."""
    origin: np.ndarray
    """(3,) camera-frame point on the floor that becomes the world origin."""
    method: str
    """How the up direction was found: 'floor plane', 'foot line + body axis', 'body axis' or 'camera up'."""
    contacts: int
    """Number of foot-contact samples used."""

    @property
    def up(self) -> np.ndarray:
        """Floor normal in camera coordinates (3,)."""
        return self.rotation[1]

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points (..., 3) -> world points (..., 3)."""
        return (np.asarray(points, dtype=np.float64) - self.origin) @ self.rotation.T

    def camera_position(self) -> np.ndarray:
        """The camera centre in world coordinates (3,)."""
        return self.to_world(np.zeros(3))

    def matrix(self) -> np.ndarray:
        """(4, 4) homogeneous world-from-camera transform."""
        out = np.eye(4)
        out[:3, :3] = self.rotation
        out[:3, 3] = -self.rotation @ self.origin
        return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(np.linalg.norm(v), 1e-12)


def fit_ground(
    poses: np.ndarray, confidence: np.ndarray, valid: np.ndarray, fps: float, min_spread: float = 0.15,
    max_tilt_deg: float = 30.0,
) -> GroundFrame:
    """Fit the floor under absolute camera-frame poses (T, 17, 3) metres; confidence (T, 17), valid (T,)."""
    poses = np.asarray(poses, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    conf = np.asarray(confidence, dtype=np.float64)
    if not valid.any():
        raise ValueError("no valid frame")
    camera_up = np.array([0.0, -1.0, 0.0])
    feet_seen = valid & (conf[:, L_ANKLE] > 0) & (conf[:, R_ANKLE] > 0)
    full_body = feet_seen & (conf[:, NECK] > 0)
    method = "camera up"
    up0 = camera_up
    if full_body.sum() >= max(3, 0.3 * valid.sum()):
        mid_ankle = (poses[full_body, L_ANKLE] + poses[full_body, R_ANKLE]) / 2
        axis = _unit(np.median(poses[full_body, NECK] - mid_ankle, axis=0))
        if np.dot(axis, camera_up) > math.cos(math.radians(60)):  # a standing body, not a lying one
            up0, method = axis, "body axis"

    contacts = _contact_points(poses, feet_seen, up0, fps)
    up = up0
    if len(contacts) >= 6 and method != "camera up":
        centred = contacts - contacts.mean(0)
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        spread = singular / math.sqrt(len(contacts))
        normal = vt[2] if np.dot(vt[2], up0) > 0 else -vt[2]
        tilt = math.degrees(math.acos(np.clip(np.dot(normal, up0), -1, 1)))
        if spread[1] >= min_spread and tilt <= max_tilt_deg:
            up, method = normal, "floor plane"
        elif spread[0] >= min_spread:
            line = vt[0]
            candidate = _unit(up0 - np.dot(up0, line) * line)
            if math.degrees(math.acos(np.clip(np.dot(candidate, up0), -1, 1))) <= max_tilt_deg:
                up, method = candidate, "foot line + body axis"

    if len(contacts):
        floor = float(np.median(contacts @ up)) - ANKLE_HEIGHT
    else:  # no foot seen: put the lowest point of the (partly synthesised) body on the floor
        ankles = poses[valid][:, [L_ANKLE, R_ANKLE]].reshape(-1, 3)
        floor = float(np.percentile(ankles @ up, 5)) - ANKLE_HEIGHT
    x_axis = np.array([1.0, 0.0, 0.0]) - up[0] * up
    if np.linalg.norm(x_axis) < 1e-3:
        x_axis = np.array([0.0, 0.0, 1.0]) - up[2] * up
    x_axis = _unit(x_axis)
    z_axis = np.cross(x_axis, up)
    rotation = np.stack([x_axis, up, z_axis])
    root = poses[np.nonzero(valid)[0][0], PELVIS]
    origin = root - (np.dot(root, up) - floor) * up
    return GroundFrame(rotation=rotation, origin=origin, method=method, contacts=len(contacts))


def _contact_points(poses: np.ndarray, feet_seen: np.ndarray, up: np.ndarray, fps: float) -> np.ndarray:
    """Ankle positions (N, 3) in contact with the floor: the lower ankle of a frame, when it moves slowly."""
    frames = np.nonzero(feet_seen)[0]
    if len(frames) < 2:
        return np.zeros((0, 3))
    ankles = poses[:, [L_ANKLE, R_ANKLE]]  # (T, 2, 3)
    heights = ankles @ up  # (T, 2)
    lower = np.argmin(heights, axis=1)
    points = ankles[np.arange(len(poses)), lower]  # (T, 3)
    speed = np.full(len(poses), np.inf)
    gap_ok = np.diff(frames) == 1
    steps = np.linalg.norm(points[frames[1:]] - points[frames[:-1]], axis=1) * fps
    speed[frames[1:][gap_ok]] = steps[gap_ok]
    candidates = frames[np.isfinite(speed[frames])]
    if len(candidates) == 0:
        return points[frames]
    slow = candidates[speed[candidates] <= np.median(speed[candidates])]
    return points[slow]


def fit_ground_people(people: list[tuple[np.ndarray, np.ndarray, np.ndarray]], fps: float) -> GroundFrame:
    """One floor for a static camera from every person: items (poses (T, 17, 3) absolute camera metres,
    confidence (T, 17), valid (T,)); NaN poses in invalid frames are fine. The origin lies under the first
    valid root of the first person."""
    separator = (np.zeros((1, 17, 3)), np.zeros((1, 17)), np.zeros(1, dtype=bool))
    parts = [part for item in people for part in (item, separator)]
    poses = np.concatenate([np.nan_to_num(np.asarray(p, dtype=np.float64)) for p, _, _ in parts])
    confidence = np.concatenate([np.asarray(c, dtype=np.float64) for _, c, _ in parts])
    valid = np.concatenate([np.asarray(v, dtype=bool) for _, _, v in parts])
    return fit_ground(poses, confidence, valid, fps)


def ground_feet(
    ground: GroundFrame, poses_3d: np.ndarray, trajectory: np.ndarray, confidence: np.ndarray, valid: np.ndarray,
    fps: float, smoothing: float = 0.1, tolerance: float = 0.01,
) -> np.ndarray:
    """The trajectory (T, 3) camera metres moved along the floor normal so the feet stand on the floor.

    poses_3d (T, 17, 3) root-relative camera metres, trajectory (T, 3), confidence (T, 17) (0 = not seen),
    valid (T,). Invalid frames stay NaN. See the module docstring for the rule.
    """
    trajectory = np.array(trajectory, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(trajectory).all(axis=1)
    if not valid.any():
        return trajectory
    world = ground.to_world(np.nan_to_num(np.asarray(poses_3d, dtype=np.float64)) + np.nan_to_num(trajectory)[:, None])
    heights = world[..., 1]  # (T, 17)
    seen = valid[:, None] & (np.asarray(confidence)[:, [L_ANKLE, R_ANKLE]] > 0)  # (T, 2)
    ankle_heights = np.where(seen, heights[:, [L_ANKLE, R_ANKLE]], np.inf)
    lower = ankle_heights.min(axis=1)  # inf where no ankle seen
    feet = np.isfinite(lower)
    # Contact: the lower seen ankle moves slowly (at most the person's median speed, or under 0.3 m/s).
    which = np.argmin(ankle_heights, axis=1)
    points = world[np.arange(len(world)), np.where(which == 0, L_ANKLE, R_ANKLE)]
    speed = np.full(len(world), np.inf)
    step_ok = feet[1:] & feet[:-1]
    speed[1:][step_ok] = np.linalg.norm(points[1:] - points[:-1], axis=1)[step_ok] * fps
    finite = np.isfinite(speed)
    limit = max(0.3, float(np.median(speed[finite]))) if finite.any() else 0.0
    contact = feet & (speed <= limit)
    if feet.sum() >= 1 and not contact.any():
        contact = feet.copy()
    frames = np.arange(len(world))
    offset = np.full(len(world), np.nan)
    if contact.any():
        need = ANKLE_HEIGHT - lower[contact]
        offset[feet] = np.interp(frames[feet], frames[contact], need)
        offset[contact] = need
    unseen = valid & ~feet
    if unseen.any():
        if contact.sum() >= 5:
            pelvis_height = float(np.median(heights[contact, PELVIS] + offset[contact]))
            offset[unseen] = pelvis_height - heights[unseen, PELVIS]
        else:  # never a foot on the floor: stand the (synthesised) legs on it
            offset[unseen] = ANKLE_HEIGHT - heights[unseen][:, [L_ANKLE, R_ANKLE]].min(axis=1)
    smoothed = np.full(len(world), np.nan)
    for start, end in _valid_runs(valid):
        smoothed[start:end] = smooth_signal(offset[start:end, None], smoothing * fps)[:, 0]
    floor_limit = np.where(feet, ANKLE_HEIGHT - tolerance - lower, -np.inf)
    smoothed = np.where(valid, np.maximum(smoothed, floor_limit), np.nan)
    return trajectory + smoothed[:, None] * ground.up


def _valid_runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) half-open of each run of True."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist(), strict=True))
