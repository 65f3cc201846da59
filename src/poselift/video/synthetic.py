"""A procedural walking figure seen by a known camera: ground truth for the demo and the tests.

The gait is a simple sinusoidal model (hip flexion +-20°, knee flexion peaking in swing, opposite arm
swing, a pelvis height that keeps the lower ankle on the floor) on Human3.6M's 17 joints with Human3.6M-
like bone lengths. It is not real motion capture; it only has to be a plausible, exactly known person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poselift.video.trajectory import ANKLE_HEIGHT, default_focal, project

THIGH, SHIN, HIP_HALF, SHOULDER_HALF = 0.44, 0.44, 0.13, 0.16
UPPER_ARM, FOREARM = 0.28, 0.25
UP = np.array([0.0, 1.0, 0.0])


@dataclass
class SyntheticClip:
    """A synthetic walk: world poses (Y up), the same in the camera frame, and their 2D projections."""

    poses_world: np.ndarray
    """(T, 17, 3) metres, world frame, Y up, floor at Y = 0."""
    poses_camera: np.ndarray
    """(T, 17, 3) metres, camera frame (x right, y down, z forward)."""
    keypoints_2d: np.ndarray
    """(T, 17, 2) pixels."""
    times: np.ndarray
    """(T,) seconds."""
    fps: float
    width: int
    height: int
    focal: float
    camera_rotation: np.ndarray
    """(3, 3) camera-from-world rotation."""
    camera_position: np.ndarray
    """(3,) camera centre in the world frame."""

    @property
    def centre(self) -> np.ndarray:
        return np.array([self.width / 2, self.height / 2])


def look_at(position: np.ndarray, target: np.ndarray, up: np.ndarray = UP) -> np.ndarray:
    """Camera-from-world rotation (3, 3) of a camera at `position` looking at `target` (x right, y down)."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def walking_poses(times: np.ndarray, radius: float = 1.6, speed: float = 1.1, cadence: float = 0.9,
                  start_angle: float = -2.0) -> np.ndarray:
    """World poses (T, 17, 3) metres of a person walking anticlockwise (seen from above) around a circle."""
    angle = start_angle + speed / radius * times
    centre = np.stack([radius * np.cos(angle), np.zeros_like(angle), radius * np.sin(angle)], axis=-1)
    forward = np.stack([-np.sin(angle), np.zeros_like(angle), np.cos(angle)], axis=-1)
    left = np.cross(UP, forward)  # (T, 3): the person's left, with forward and up
    phase = 2 * math.pi * cadence * times
    poses = np.zeros((len(times), 17, 3))

    def leg(phi):
        hip_angle = 0.35 * np.sin(phi)
        knee = 0.08 + 0.95 * np.clip(np.cos(phi), 0, None) ** 1.5
        thigh = -np.cos(hip_angle)[:, None] * UP + np.sin(hip_angle)[:, None] * forward
        shin = -np.cos(hip_angle - knee)[:, None] * UP + np.sin(hip_angle - knee)[:, None] * forward
        return THIGH * thigh, SHIN * shin

    l_thigh, l_shin = leg(phase)
    r_thigh, r_shin = leg(phase + math.pi)
    drop = np.maximum(-(l_thigh + l_shin)[:, 1], -(r_thigh + r_shin)[:, 1])
    sway = 0.02 * np.sin(phase)[:, None] * left
    pelvis = centre + (ANKLE_HEIGHT + drop)[:, None] * UP + sway
    poses[:, 0] = pelvis
    for hip, knee, ankle, side, thigh, shin in ((1, 2, 3, -1, r_thigh, r_shin), (4, 5, 6, 1, l_thigh, l_shin)):
        poses[:, hip] = pelvis + side * HIP_HALF * left
        poses[:, knee] = poses[:, hip] + thigh
        poses[:, ankle] = poses[:, knee] + shin
    lean = 0.06 * forward
    poses[:, 7] = pelvis + 0.23 * UP + lean * 0.5
    poses[:, 8] = poses[:, 7] + 0.25 * UP + lean * 0.5
    poses[:, 9] = poses[:, 8] + 0.11 * UP + 0.04 * forward
    poses[:, 10] = poses[:, 9] + 0.12 * UP - 0.01 * forward
    for shoulder, elbow, wrist, side, phi in ((11, 12, 13, 1, phase + math.pi), (14, 15, 16, -1, phase)):
        swing = 0.3 * np.sin(phi)
        bend = 0.35 + 0.15 * np.sin(phi)
        poses[:, shoulder] = poses[:, 8] + side * SHOULDER_HALF * left - 0.02 * UP
        upper = -np.cos(swing)[:, None] * UP + np.sin(swing)[:, None] * forward
        lower = -np.cos(swing + bend)[:, None] * UP + np.sin(swing + bend)[:, None] * forward
        poses[:, elbow] = poses[:, shoulder] + UPPER_ARM * upper + 0.03 * side * left
        poses[:, wrist] = poses[:, elbow] + FOREARM * lower
    return poses


def synthesize_walk(seconds: float = 5.0, fps: float = 30.0, width: int = 640, height: int = 360,
                    hfov_deg: float = 60.0) -> SyntheticClip:
    """A person walking part of a circle 5.5 m in front of a camera 1.6 m high; all arrays exact."""
    times = np.arange(int(round(seconds * fps))) / fps
    poses_world = walking_poses(times)
    camera_position = np.array([0.0, 1.6, -5.5])
    rotation = look_at(camera_position, np.array([0.0, 0.9, 0.0]))
    poses_camera = (poses_world - camera_position) @ rotation.T
    focal = default_focal(width, hfov_deg)
    keypoints = project(poses_camera, focal, np.array([width / 2, height / 2]))
    return SyntheticClip(poses_world, poses_camera, keypoints, times, fps, width, height, focal, rotation,
                         camera_position)


def write_stick_video(path: str | Path, clip: SyntheticClip) -> None:
    """Render the clip's 2D keypoints as a stick figure on a plain background to a video file."""
    from PIL import Image, ImageDraw

    from poselift.video.render import VideoWriter, draw_skeleton_2d

    with VideoWriter(path, clip.width, clip.height, clip.fps) as writer:
        for t, keypoints in enumerate(clip.keypoints_2d):
            image = Image.new("RGB", (clip.width, clip.height), (205, 200, 190))
            draw = ImageDraw.Draw(image)
            horizon = int(clip.height * 0.35)
            draw.rectangle([0, horizon, clip.width, clip.height], fill=(150, 140, 125))
            draw_skeleton_2d(draw, keypoints, np.ones(17), width=5)
            writer.write(np.asarray(image), clip.times[t])
