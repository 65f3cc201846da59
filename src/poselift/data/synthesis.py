"""Training pairs from 3D motion: resampling, body-proportion augmentation, cameras and 2D detector noise.

`synthesize(clips, ...)` turns MocapClips (17 joints, world metres, Y up) into PoseSequences: each clip is
resampled to the target frame rate, given new body proportions, viewed by several cameras (random plausible
ones, or the four Human3.6M ones) and projected to 2D, where noise imitating a real 2D detector is added.
Every step is vectorised numpy and seeded (np.random.Generator), so the same seed gives the same data.
docs/data.md documents the camera ranges and the noise levels.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from poselift.body_size import BONE_GROUPS, bone_lengths, stature
from poselift.camera import Camera, load_h36m_cameras, normalize_screen_coordinates, project, world_to_camera
from poselift.data.mocap import MocapClip
from poselift.data.noise_model import _SWAP_GROUPS, _SWAP_PERMUTATIONS, JOINT_NOISE_SCALE, NOISE_LEVELS, NoiseLevel
from poselift.data.sequences import PoseSequence
from poselift.errors import InputError
from poselift.geometry.frames import orthonormal_frames
from poselift.geometry.quaternions import from_axis_angle, rotate
from poselift.geometry.resample import resample_rate
from poselift.skeleton import H36M17

MIN_DEPTH = 1.0
"""Every joint of every frame stays at least this far in front of the camera (metres)."""

# ------------------------------------------------------------------------------------ body proportions

BONE_SIGMA: dict[str, float] = {"hip_width": 0.08, "shoulder_width": 0.08}
"""Standard deviation of the log length factor per group (BONE_GROUPS); groups not listed use 0.05."""


DEFAULT_HEIGHT_RANGE = (1.5, 1.95)
"""Statures (metres, nominal: see `stature`) the proportion augmentation draws from by default."""


def augment_proportions(
    joints: np.ndarray,
    rng: np.random.Generator,
    height_range: tuple[float, float] | None = DEFAULT_HEIGHT_RANGE,
    default_sigma: float = 0.05,
) -> np.ndarray:
    """New body proportions for a (T, 17, 3) Y-up motion (metres): each bone group's length is scaled by a
    random factor (the same left and right, within +-15 %, 25 % for widths), then the whole body so that the
    nominal stature is uniform in height_range (None: no rescaling, the motion keeps about its own size).
    Joints are rebuilt along the tree keeping every bone's direction; the pelvis trajectory scales with the
    legs about the floor under the first frame.
    """
    joints = np.asarray(joints, dtype=np.float64)
    lengths = bone_lengths(joints)
    factor = np.ones(H36M17.num_joints)
    for group, bones in BONE_GROUPS.items():
        sigma = BONE_SIGMA.get(group, default_sigma)
        limit = 0.25 if sigma > default_sigma else 0.15
        value = float(np.clip(np.exp(rng.normal(0.0, sigma)), 1 - limit, 1 + limit))
        for _, child in bones:
            factor[child] = value
    if height_range is not None:
        target = rng.uniform(*height_range)
        factor *= target / max(stature(lengths * factor), 1e-6)
    legs_before = lengths[[2, 3, 5, 6]].sum()
    legs_after = (lengths * factor)[[2, 3, 5, 6]].sum()
    leg_scale = legs_after / max(legs_before, 1e-9)
    out = np.empty_like(joints)
    origin = np.array([joints[0, 0, 0], 0.0, joints[0, 0, 2]])
    out[:, 0] = (joints[:, 0] - origin) * leg_scale + origin
    for child, parent in enumerate(H36M17.parents):
        if parent >= 0:
            out[:, child] = out[:, parent] + (joints[:, child] - joints[:, parent]) * factor[child]
    return out.astype(np.float32)


# -------------------------------------------------------------------------------------------- joint angles

LIMB_ROTATION_SHARE: dict[int, float] = {
    8: 0.5,  # thorax: the upper body bends and twists about the spine
    10: 0.5,  # head top: the head turns about the neck
    12: 1.0, 13: 1.0, 15: 1.0, 16: 1.0,  # elbows about the shoulders, wrists about the elbows
    2: 0.5, 3: 0.5, 5: 0.5, 6: 0.5,  # knees about the hips, ankles about the knees
}
"""H36M joints whose subtree `perturb_limb_angles` turns about the joint's parent, and the share of its
standard deviation each gets (arms move most freely; legs carry the body and keep it on the floor)."""

LIMB_ROTATION_SECONDS = 1.0
"""Time scale (seconds) over which the limb rotations drift."""


@functools.cache
def _subtree(joint: int) -> tuple[int, ...]:
    """`joint` and every joint below it in the H36M tree (worked out once per joint)."""
    members = [joint]
    for child, parent in enumerate(H36M17.parents):
        if parent in members:
            members.append(child)
    return tuple(members)


def perturb_limb_angles(
    joints: np.ndarray, rng: np.random.Generator, sigma_degrees: float, fps: float,
    seconds: float = LIMB_ROTATION_SECONDS,
) -> np.ndarray:
    """New joint angles for a (T, 17, 3) motion, every bone length kept: each joint of LIMB_ROTATION_SHARE
    turns its subtree about its parent by a rotation vector drifting smoothly over time (low-passed noise,
    time scale `seconds`; per-axis standard deviation sigma_degrees x the joint's share). The recording's
    arm and leg motion is thereby combined with poses it never holds, so the lifter cannot learn a style's
    typical arm trajectory instead of reading the 2D. Same dtype out; sigma_degrees = 0 returns a copy and draws
    nothing.
    """
    joints = np.asarray(joints)
    if sigma_degrees <= 0 or joints.shape[0] == 0:
        return joints.copy()
    out = joints.astype(np.float64)
    for joint, share in LIMB_ROTATION_SHARE.items():
        vector = smooth_noise(rng, (out.shape[0], 3), fps, seconds) * math.radians(sigma_degrees * share)
        turn = from_axis_angle(vector, np.linalg.norm(vector, axis=-1))[:, None]  # (T, 1, 4)
        members = list(_subtree(joint))
        pivot = out[:, H36M17.parents[joint]][:, None]
        out[:, members] = pivot + rotate(turn, out[:, members] - pivot)
    return out.astype(joints.dtype)


ARM_BONES: tuple[tuple[int, int], ...] = ((11, 12), (12, 13), (14, 15), (15, 16))
"""H36M upper arms and forearms (parent, child): the bones `borrow_arms` takes from another recording."""


def chest_frames(joints: np.ndarray) -> np.ndarray:
    """(T, 3, 3) orthonormal chest axes of a (T, 17, 3) motion, as columns: up (spine to thorax), left (right to
    left shoulder, made perpendicular) and their cross product; arm directions in these axes describe the arm
    pose alone."""
    joints = np.asarray(joints, dtype=np.float64)
    return orthonormal_frames(joints[:, 8] - joints[:, 7], joints[:, 11] - joints[:, 14])


def ping_pong(frames: int, length: int, start: int = 0) -> np.ndarray:
    """`length` frame indices into a `frames`-long recording from `start`, played forward and back at its ends
    (no jump, so a short donor can cover a long piece)."""
    if frames <= 1:
        return np.zeros(length, dtype=np.int64)
    period = 2 * (frames - 1)
    phase = (start + np.arange(length)) % period
    return np.where(phase < frames, phase, period - phase).astype(np.int64)


def borrow_arms(joints: np.ndarray, donor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A (T, 17, 3) motion whose upper arms and forearms move as a donor recording's do relative to its chest
    (from a random frame, played back and forth to length T), with the motion's own bone lengths, shoulders
    and everything else kept. Recorded arm motion thus meets legs, torso and actions it was never recorded
    with: the lifter has to read the arms from the 2D instead of inferring them from the rest of the body."""
    joints = np.asarray(joints)
    out = joints.astype(np.float64)
    donor = np.asarray(donor, dtype=np.float64)[ping_pong(len(donor), len(out), int(rng.integers(len(donor))))]
    to_chest = chest_frames(out) @ np.swapaxes(chest_frames(donor), -1, -2)  # donor chest -> this chest
    for parent, child in ARM_BONES:
        length = np.linalg.norm(joints[:, child] - joints[:, parent], axis=-1, keepdims=True)
        direction = np.einsum("tij,tj->ti", to_chest, donor[:, child] - donor[:, parent])
        direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-9)
        out[:, child] = out[:, parent] + direction * length
    return out.astype(joints.dtype)


# ---------------------------------------------------------------------------------------------- cameras

IMAGE_SIZES: tuple[tuple[int, int], ...] = ((1000, 1000), (1920, 1080), (1080, 1920))
"""Random cameras use one of these image sizes (square like Human3.6M, 16:9 video, or a phone held upright);
models that read where the body is in the image (input_norm "frame_place") see all three shapes."""


@dataclass(frozen=True)
class CameraRanges:
    """Ranges random cameras are drawn from (uniform unless said otherwise)."""

    height: tuple[float, float] = (0.5, 2.2)  # camera centre above the floor, metres
    horizontal_fov: tuple[float, float] = (40.0, 90.0)  # degrees
    tilt_jitter: float = 6.0  # degrees (std) added to the tilt that aims at the body's middle
    roll: float = 3.0  # degrees, uniform in [-roll, roll]
    distance_slack: tuple[float, float] = (1.0, 1.8)  # log-uniform factor over the closest valid distance
    max_distance: float = 25.0  # metres; a camera that would need to be farther is drawn again
    margin: float = 0.03  # fraction of the image width kept free at every border
    principal_point_jitter: float = 0.01  # fraction of the image size


DEFAULT_CAMERA_RANGES = CameraRanges()


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """World (Y up) -> camera rotation of a camera whose horizontal viewing direction is (sin yaw, 0, cos yaw),
    tilted down by `pitch` and rolled by `roll` (radians)."""
    forward_h = np.array([math.sin(yaw), 0.0, math.cos(yaw)])
    up = np.array([0.0, 1.0, 0.0])
    forward = math.cos(pitch) * forward_h - math.sin(pitch) * up
    down = -(math.cos(pitch) * up + math.sin(pitch) * forward_h)
    right = np.cross(down, forward)
    R = np.stack([right, down, forward])
    c, s = math.cos(roll), math.sin(roll)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ R


def _distance_interval(
    points: np.ndarray, R: np.ndarray, anchor: np.ndarray, back: np.ndarray, bounds: np.ndarray
) -> tuple[float, float]:
    """The distances d for which a camera at anchor - d * back (rotation R) sees every point inside the image.

    points (N, 3) world; bounds = (x_lo, x_hi, y_lo, y_hi) limits of X/Z and Y/Z; every joint has Z >= MIN_DEPTH.
    Each condition is linear in d (a * d <= b), so the feasible set is an interval [lo, hi].
    """
    local = (points - anchor) @ R.T  # camera-frame coordinates when d = 0
    v = R @ back  # how camera-frame coordinates change per metre of d
    x0, y0, z0 = local[:, 0], local[:, 1], local[:, 2]
    x_lo, x_hi, y_lo, y_hi = bounds
    # a * d <= b for each constraint.
    a = np.concatenate([
        np.full_like(z0, -v[2]),  # z0 + d vz >= MIN_DEPTH
        np.full_like(x0, v[0] - x_hi * v[2]), np.full_like(x0, x_lo * v[2] - v[0]),
        np.full_like(y0, v[1] - y_hi * v[2]), np.full_like(y0, y_lo * v[2] - v[1]),
    ])
    b = np.concatenate([z0 - MIN_DEPTH, x_hi * z0 - x0, x0 - x_lo * z0, y_hi * z0 - y0, y0 - y_lo * z0])
    lower = b[a < 0] / a[a < 0]
    upper = b[a > 0] / a[a > 0]
    if np.any(b[a == 0] < 0):
        return math.inf, -math.inf
    lo = float(lower.max()) if lower.size else -math.inf
    hi = float(upper.min()) if upper.size else math.inf
    return max(lo, 0.0), hi


def sees_everything(camera: Camera, points_world: np.ndarray, margin_px: float = 0.0) -> bool:
    """True if every point (..., 3) is at least MIN_DEPTH in front of the camera and inside the image."""
    cam = world_to_camera(np.asarray(points_world, dtype=np.float64), camera)
    if not np.all(cam[..., 2] >= MIN_DEPTH - 1e-6):
        return False
    px = project(cam, camera, distort_lens=False)
    return bool(
        np.all(px[..., 0] >= margin_px - 1e-6) and np.all(px[..., 0] <= camera.width - margin_px + 1e-6)
        and np.all(px[..., 1] >= margin_px - 1e-6) and np.all(px[..., 1] <= camera.height - margin_px + 1e-6)
    )


def random_camera(
    joints_world: np.ndarray,
    rng: np.random.Generator,
    ranges: CameraRanges = DEFAULT_CAMERA_RANGES,
    name: str = "random",
    max_tries: int = 20,
) -> Camera:
    """A plausible camera that keeps the WHOLE clip (T, 17, 3, world metres, Y up, floor y = 0) in view.

    Height, tilt, roll, field of view, image size and azimuth are drawn at random; the camera then backs
    away horizontally from the clip's centre until every joint of every frame is >= 1 m in front of it and
    inside the image (solved exactly, not searched), times a random slack. Verified before returning.
    """
    points = np.asarray(joints_world, dtype=np.float64).reshape(-1, 3)
    if not np.all(np.isfinite(points)):
        raise InputError(None, "random_camera: joints contain NaN or infinite values")
    lo_corner, hi_corner = points.min(axis=0), points.max(axis=0)
    centre = (lo_corner + hi_corner) / 2
    body_middle = 0.5 * (hi_corner[1] + max(lo_corner[1], 0.0))
    for attempt in range(max_tries):
        width, height = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
        fov = math.radians(rng.uniform(*ranges.horizontal_fov))
        if attempt == max_tries - 1:  # last resort: level camera, widest lens (always feasible)
            fov = math.radians(ranges.horizontal_fov[1])
        focal = width / 2 / math.tan(fov / 2)
        cx = width / 2 + rng.uniform(-1, 1) * ranges.principal_point_jitter * width
        cy = height / 2 + rng.uniform(-1, 1) * ranges.principal_point_jitter * height
        cam_height = rng.uniform(*ranges.height)
        yaw = rng.uniform(-math.pi, math.pi)
        guess = rng.uniform(3.0, 8.0)
        pitch = math.atan2(cam_height - body_middle, guess) + math.radians(rng.normal(0, ranges.tilt_jitter))
        roll = math.radians(rng.uniform(-ranges.roll, ranges.roll))
        if attempt == max_tries - 1:
            pitch, roll = 0.0, 0.0
        R = _rotation(yaw, pitch, roll)
        back = np.array([math.sin(yaw), 0.0, math.cos(yaw)])  # horizontal viewing direction
        anchor = np.array([centre[0], cam_height, centre[2]])
        m = ranges.margin * width
        bounds = np.array([(m - cx) / focal, (width - m - cx) / focal, (m - cy) / focal, (height - m - cy) / focal])
        lo, hi = _distance_interval(points, R, anchor, back, bounds)
        hi = min(hi, max(ranges.max_distance, lo) if attempt == max_tries - 1 else ranges.max_distance)
        if not lo <= hi:
            continue
        slack = math.exp(rng.uniform(*np.log(ranges.distance_slack)))
        distance = max(min(max(lo, 0.5) * slack, hi), lo)
        position = anchor - distance * back
        camera = Camera(
            R=R, t=-R @ position, focal=(focal, focal), centre=(cx, cy), width=int(width), height=int(height),
            name=name,
        )
        if sees_everything(camera, points, margin_px=m * 0.99):
            return camera
    raise InputError(None, f"random_camera: no valid camera in {max_tries} tries (clip extent {hi_corner - lo_corner})")


@functools.cache
def _h36m_cameras() -> dict[str, list[Camera]]:
    return load_h36m_cameras()


def yup_to_h36m_world(points: np.ndarray) -> np.ndarray:
    """Y-up world (x, y, z) -> Human3.6M's Z-up world (x, -z, y); both right-handed, metres. (..., 3)."""
    points = np.asarray(points)
    return np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)


def place_in_h36m_room(joints_world: np.ndarray, rng: np.random.Generator, jitter: float = 0.5) -> np.ndarray:
    """Put a Y-up clip into Human3.6M's world like its actors: floor z = 0, random heading, the clip's
    horizontal centre near the room's centre (uniform +-jitter metres). (T, 17, 3) -> (T, 17, 3)."""
    world = yup_to_h36m_world(joints_world).astype(np.float64)
    angle = rng.uniform(-math.pi, math.pi)
    c, s = math.cos(angle), math.sin(angle)
    world[..., :2] = world[..., :2] @ np.array([[c, s], [-s, c]])
    flat = world.reshape(-1, 3)
    centre = (flat[:, :2].min(axis=0) + flat[:, :2].max(axis=0)) / 2
    world[..., :2] -= centre - rng.uniform(-jitter, jitter, 2)
    return world


def visible_runs(camera: Camera, joints_world: np.ndarray, min_frames: int) -> list[slice]:
    """Maximal runs of frames where all joints are >= 1 m in front of the camera and inside the image."""
    cam = world_to_camera(np.asarray(joints_world, dtype=np.float64), camera)
    ok = np.all(cam[..., 2] >= MIN_DEPTH, axis=1)
    px = project(np.where(cam[..., 2:] > 1e-3, cam, 1.0), camera, distort_lens=False)
    inside = (px[..., 0] >= 0) & (px[..., 0] <= camera.width) & (px[..., 1] >= 0) & (px[..., 1] <= camera.height)
    ok &= np.all(inside, axis=1)
    edges = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [slice(int(s), int(e)) for s, e in zip(starts, ends, strict=True) if e - s >= min_frames]


# ------------------------------------------------------------------------------------------------ noise




def bursts(rng: np.random.Generator, shape: tuple[int, ...], rate: float, mean_length: float) -> np.ndarray:
    """Boolean (T, ...) mask of runs along axis 0: about `rate` of the entries are True, in runs of geometric
    length with mean `mean_length`."""
    if rate <= 0 or shape[0] == 0:
        return np.zeros(shape, dtype=bool)
    mean_length = max(mean_length, 1.0)
    starts = rng.random(shape) < min(rate / mean_length, 1.0)
    lengths = rng.geometric(1.0 / mean_length, size=shape)
    time = np.arange(shape[0]).reshape((-1,) + (1,) * (len(shape) - 1))
    ends = np.where(starts, time + lengths, 0)
    return np.maximum.accumulate(ends, axis=0) > time


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], fps: float, seconds: float) -> np.ndarray:
    """Gaussian noise low-passed along axis 0 (time scale `seconds`), unit standard deviation. shape (T, ...)."""
    num_frames = shape[0]
    white = rng.standard_normal(shape)
    if num_frames < 2 or seconds <= 0:
        return white
    cutoff = 1.0 / (2 * math.pi * seconds)
    gain = np.exp(-0.5 * (np.fft.rfftfreq(num_frames, 1.0 / fps) / cutoff) ** 2)
    full = np.exp(-0.5 * (np.fft.fftfreq(num_frames, 1.0 / fps) / cutoff) ** 2)
    filtered = np.fft.irfft(np.fft.rfft(white, axis=0) * gain.reshape((-1,) + (1,) * (len(shape) - 1)),
                            n=num_frames, axis=0)
    return filtered / math.sqrt(np.mean(full**2))


def fill_missing(values: np.ndarray, missing: np.ndarray, hold: bool = False) -> np.ndarray:
    """Replace missing entries (T, J) of values (T, J, C) along time: linear interpolation between the nearest
    present frames (or, with hold=True, the last present value, as a real-time tracker would). Entries with
    no present frame on the needed side take the nearest present one; joints never present are unchanged."""
    num_frames = values.shape[0]
    time = np.broadcast_to(np.arange(num_frames)[:, None], missing.shape)
    present = ~missing
    prev = np.maximum.accumulate(np.where(present, time, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(present, time, num_frames)[::-1], axis=0)[::-1]
    has_prev, has_next = prev >= 0, nxt < num_frames
    prev_values = np.take_along_axis(values, np.clip(prev, 0, num_frames - 1)[..., None], axis=0)
    next_values = np.take_along_axis(values, np.clip(nxt, 0, num_frames - 1)[..., None], axis=0)
    if hold:
        filled = np.where(has_prev[..., None], prev_values, next_values)
    else:
        span = np.maximum(nxt - prev, 1)
        weight = ((time - prev) / span)[..., None]
        between = prev_values + (next_values - prev_values) * weight
        filled = np.where((has_prev & has_next)[..., None], between,
                          np.where(has_prev[..., None], prev_values, next_values))
    usable = (missing & (has_prev | has_next))[..., None]
    return np.where(usable, filled, values)


def add_detector_noise(
    keypoints_px: np.ndarray, fps: float, level: str | NoiseLevel, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Make clean projected keypoints (T, 17, 2) pixels look like a 2D detector's output.

    Returns (noisy keypoints (T, 17, 2) pixels, confidence (T, 17) in [0, 1]): jitter and drift scaled by
    the person's size, low-confidence runs (conf 0.1-0.5, 3x jitter), left/right swaps for a few frames,
    missing runs (conf 0; filled by interpolation or, half of the time, by holding the last value).
    """
    level = NOISE_LEVELS[level] if isinstance(level, str) else level
    kp = np.asarray(keypoints_px, dtype=np.float64)
    num_frames, num_joints = kp.shape[:2]
    confidence = np.ones((num_frames, num_joints))
    if level == NOISE_LEVELS["none"] or num_frames == 0:
        return kp.astype(np.float32), confidence.astype(np.float32)
    if num_joints != H36M17.num_joints:
        raise InputError(None, f"detector noise is defined for 17 joints, got {num_joints}")
    size = np.maximum(np.ptp(kp, axis=1).max(axis=-1), 1.0)[:, None, None]  # (T, 1, 1) pixels
    scale = size * JOINT_NOISE_SCALE[None, :, None]
    low = bursts(rng, (num_frames, num_joints), level.low_rate, level.low_frames)
    jitter_std = level.jitter * np.where(low, 3.0, 1.0)[..., None]
    noisy = kp + rng.standard_normal(kp.shape) * jitter_std * scale
    if level.drift > 0:
        noisy += smooth_noise(rng, kp.shape, fps, level.drift_seconds) * level.drift * scale
    confidence = rng.uniform(0.75, 1.0, (num_frames, num_joints))
    confidence = np.where(low, rng.uniform(0.1, 0.5, (num_frames, num_joints)), confidence)
    if level.swap_rate > 0:
        swapping = bursts(rng, (num_frames,), level.swap_rate, level.swap_frames)
        starts = np.where(swapping & ~np.concatenate([[False], swapping[:-1]]), np.arange(num_frames), -1)
        group_at_start = rng.integers(1, len(_SWAP_GROUPS) + 1, num_frames)
        latest = np.maximum.accumulate(starts)
        group = np.where(swapping, group_at_start[np.maximum(latest, 0)], 0)
        perm = _SWAP_PERMUTATIONS[group]  # (T, 17)
        noisy = np.take_along_axis(noisy, perm[..., None], axis=1)
        confidence = np.take_along_axis(confidence, perm, axis=1)
    if level.drop_rate > 0:
        dropped = bursts(rng, (num_frames, num_joints), level.drop_rate, level.drop_frames)
        noisy = fill_missing(noisy, dropped, hold=bool(rng.random() < 0.5))
        confidence = np.where(dropped, 0.0, confidence)
    return noisy.astype(np.float32), confidence.astype(np.float32)


# ------------------------------------------------------------------------------------------- synthesis


def _sequence(
    joints_world: np.ndarray, camera: Camera, clip: MocapClip, fps: float, noise: str | NoiseLevel,
    rng: np.random.Generator,
) -> PoseSequence:
    poses = world_to_camera(joints_world, camera).astype(np.float32)
    pixels = project(poses.astype(np.float64), camera)
    noisy, confidence = add_detector_noise(pixels, fps, noise, rng)
    return PoseSequence(
        keypoints_2d=normalize_screen_coordinates(noisy, camera.width, camera.height).astype(np.float32),
        poses_3d=poses,
        confidence=confidence,
        fps=float(fps),
        subject=clip.subject,
        action=clip.name,
        camera=camera.name,
        camera_params=camera.params(),
    )


NoiseChoice = str | NoiseLevel | Sequence[str | NoiseLevel]
"""A noise level, or several to draw from per view (a mix of clean and noisy 2D)."""


def _pick_noise(noise: NoiseChoice, rng: np.random.Generator) -> str | NoiseLevel:
    """The level for one view: `noise` itself, or one of several drawn at random (one level uses no draw,
    so single-level data stays exactly as before)."""
    if isinstance(noise, str | NoiseLevel):
        return noise
    return noise[0] if len(noise) == 1 else noise[int(rng.integers(len(noise)))]


def random_speed(rng: np.random.Generator, speed_range: tuple[float, float] | None) -> float:
    """A playback speed factor, log-uniform in speed_range; 1 (and no draw from `rng`) without a range."""
    if not speed_range:
        return 1.0
    low, high = speed_range
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


@dataclass(frozen=True)
class MotionAugmentation:
    """How each piece's 3D motion is varied before it is filmed (training data; evaluation uses none)."""

    proportions: bool = True
    """New body proportions and a stature in `height_range` per piece (shared by its views)."""
    height_range: tuple[float, float] | None = DEFAULT_HEIGHT_RANGE
    """Statures (metres) the proportions draw from; None keeps the clip's own size."""
    speed_range: tuple[float, float] | None = None
    """Playback speed factor range, log-uniform in [low, high]; None keeps the recorded speed."""
    limb_rotation: float = 0.0
    """Per-axis standard deviation (degrees) of `perturb_limb_angles` on every piece; 0: off."""
    arm_swap: float = 0.0
    """Share of pieces whose arms move as another recording's (`borrow_arms`, before the limb rotation); 0: off."""


NO_AUGMENTATION = MotionAugmentation(proportions=False)
"""The recorded motion as it is: evaluation and validation data."""


def synthesize_clip(
    clip: MocapClip,
    rng: np.random.Generator,
    cameras: str = "random",
    views_per_clip: int = 4,
    fps: float | None = 30.0,
    noise: NoiseChoice = "none",
    augmentation: MotionAugmentation = MotionAugmentation(),
    camera_ranges: CameraRanges = DEFAULT_CAMERA_RANGES,
    min_frames: int = 1,
    donors: Sequence[MocapClip] = (),
    views_out: list | None = None,
) -> list[PoseSequence]:
    """Training pairs from one clip (see `synthesize`); uses `rng` for everything. donors: the recordings
    `augmentation.arm_swap` borrows arm motion from. views_out: random cameras only; each view's motion,
    camera and noise level are appended there (poselift.data.synthesis_torch.ViewSpec, with the clip) for
    filming in one batch, and nothing is returned."""
    # Played `speed` times faster, the recording reads as if it were taken at speed x its rate.
    source_fps = clip.fps * random_speed(rng, augmentation.speed_range)
    target_fps = clip.fps if fps is None else float(fps)
    joints, clip_fps = clip.joints_3d, clip.fps
    if abs(source_fps - target_fps) > 1e-6:
        joints, clip_fps = resample_rate(joints, source_fps, target_fps), target_fps
    if augmentation.arm_swap > 0 and donors and rng.random() < augmentation.arm_swap:
        donor = donors[int(rng.integers(len(donors)))]
        donor_joints = donor.joints_3d
        if abs(donor.fps - clip_fps) > 1e-6:
            donor_joints = resample_rate(donor_joints, donor.fps, clip_fps)
        joints = borrow_arms(joints, donor_joints, rng)
    if augmentation.limb_rotation > 0:
        joints = perturb_limb_angles(joints, rng, augmentation.limb_rotation, clip_fps)
    if augmentation.proportions:
        joints = augment_proportions(joints, rng, augmentation.height_range)
    sequences = []
    if cameras == "random":
        for view in range(views_per_clip):
            camera = random_camera(joints, rng, camera_ranges, name=f"random-{view}")
            level = _pick_noise(noise, rng)
            if views_out is not None:
                from poselift.data.synthesis_torch import ViewSpec

                level = NOISE_LEVELS[level] if isinstance(level, str) else level
                views_out.append((ViewSpec(joints, camera, clip_fps, level), clip))
                continue
            sequences.append(_sequence(joints, camera, clip, clip_fps, level, rng))
    elif cameras == "h36m":
        all_cameras = _h36m_cameras()
        subjects = sorted(all_cameras)
        world = place_in_h36m_room(joints, rng)
        for view in range(views_per_clip):
            subject = subjects[rng.integers(len(subjects))]
            camera = all_cameras[subject][view % 4]
            camera = replace(camera, name=f"{subject}-{camera.name}")
            level = _pick_noise(noise, rng)
            for run in visible_runs(camera, world, min_frames):
                sequences.append(_sequence(world[run], camera, clip, clip_fps, level, rng))
    else:
        raise InputError(None, f"cameras must be 'random' or 'h36m', got {cameras!r}")
    return sequences


def synthesize(
    clips: Sequence[MocapClip],
    cameras: str = "random",
    views_per_clip: int = 4,
    fps: float | None = 30.0,
    noise: NoiseChoice = "none",
    augmentation: MotionAugmentation = MotionAugmentation(),
    seed: int = 0,
    camera_ranges: CameraRanges = DEFAULT_CAMERA_RANGES,
    min_frames: int = 1,
    max_seconds: float | None = None,
    progress: bool = False,
    device: str | None = None,
) -> list[PoseSequence]:
    """2D/3D training pairs from mocap clips: one PoseSequence per view (random cameras) or per visible run
    of frames (the 4 Human3.6M cameras, which cannot see all of a long walk).

    fps: resample every clip to this rate first (None keeps each clip's own); noise: "none", "light", "detector",
    "heavy" or a NoiseLevel, or several that each view draws from; augmentation: how each piece's motion is varied
    first (body proportions and stature, playback speed, arms from other clips, limb angles; see MotionAugmentation;
    NO_AUGMENTATION keeps the recorded motion). keypoints_2d are normalised screen coordinates, poses_3d
    camera-frame metres. Clip i uses np.random.default_rng([seed, i]): results do not depend on the order in which
    clips are processed, and the same seed gives the same data. max_seconds: cut longer clips into equal pieces of
    at most this length, each with its own cameras (people look bigger in long walks).
    device: film the views (projection, 2D noise) with torch on this device, all in a few batches
    (poselift.data.synthesis_torch; random cameras only): the same model of the data from other random draws.
    """
    if device is not None and cameras != "random":
        raise InputError(None, f"synthesis on a device needs random cameras, not {cameras!r}")
    levels = [noise] if isinstance(noise, str | NoiseLevel) else list(noise)
    if not levels:
        raise InputError(None, "noise: give at least one level")
    for level in levels:
        if isinstance(level, str) and level not in NOISE_LEVELS:
            raise InputError(None, f"unknown noise level {level!r}; choose from {', '.join(NOISE_LEVELS)}")
    iterator = enumerate(clips)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, total=len(clips), desc="synthesis", unit="clip", disable=None)
    out: list[PoseSequence] = []
    views: list | None = [] if device is not None else None
    for index, clip in iterator:
        rng = np.random.default_rng([seed, index])
        for piece in split_clip(clip, max_seconds):
            out.extend(
                synthesize_clip(
                    piece, rng, cameras=cameras, views_per_clip=views_per_clip, fps=fps, noise=noise,
                    augmentation=augmentation, camera_ranges=camera_ranges, min_frames=min_frames,
                    donors=clips, views_out=views,
                )
            )
    if views:
        from poselift.data.synthesis_torch import render_views

        rendered = render_views([spec for spec, _ in views], seed, device)
        out = [
            PoseSequence(keypoints_2d=r.keypoints_2d, poses_3d=r.poses_3d, confidence=r.confidence,
                         fps=float(spec.fps), subject=clip.subject, action=clip.name, camera=spec.camera.name,
                         camera_params=spec.camera.params())
            for (spec, clip), r in zip(views, rendered, strict=True)
        ]
    return out


def split_clip(clip: MocapClip, max_seconds: float | None) -> list[MocapClip]:
    """Cut a clip into equal consecutive pieces no longer than max_seconds (None: the clip itself)."""
    if max_seconds is None or clip.duration <= max_seconds:
        return [clip]
    pieces = math.ceil(clip.duration / max_seconds)
    bounds = np.linspace(0, clip.num_frames, pieces + 1).round().astype(int)
    return [replace(clip, joints_3d=clip.joints_3d[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
