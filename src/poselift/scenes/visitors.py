"""A long static-camera scene of visitors: people walk through the picture one after another (sometimes two
at once), with the empty room between them, as in ordinary footage of a room, a shop or a corridor.

Each visitor walks a straight line across the whole picture at their own depth, speed and direction, from
outside one edge to outside the other, so they enter, cross and leave; the gaps between them are empty.
"""

from __future__ import annotations

import numpy as np

from poselift.scenes.body import random_shape
from poselift.scenes.scene import Scene, ScenePerson, place_motion, random_camera, random_outfit
from poselift.video.synthetic import walking_poses


def straight_walk(seconds: float, fps: float, speed: float, cadence: float) -> np.ndarray:
    """A procedural walk along +z from the origin: (T, 17, 3) world metres, Y up."""
    times = np.arange(int(round(seconds * fps))) / fps
    radius = 1e4
    return walking_poses(times, radius=radius, speed=speed, cadence=cadence, start_angle=0.0) - [radius, 0.0, 0.0]


def visitors_scene(rng: np.random.Generator, people: int = 6, fps: float = 10.0, overlap_share: float = 0.3,
                   long_side: int = 640) -> Scene:
    """`people` visitors crossing a landscape picture one after another (each overlaps the previous one with
    probability `overlap_share`), 1-8 s of empty room between the others, 0.5-1.3 m/s."""
    camera = random_camera(rng, np.zeros(3), portrait=False, framing="full", long_side=long_side)
    right = np.asarray(camera.R)[0] * [1.0, 0.0, 1.0]
    right /= np.linalg.norm(right)
    towards = (camera.position - np.zeros(3)) * [1.0, 0.0, 1.0]
    distance = float(np.linalg.norm(towards))
    towards /= distance
    half_width = camera.width / 2 / camera.focal[0]
    crowd, start = [], int(rng.uniform(1.0, 4.0) * fps)
    for k in range(people):
        depth = float(np.clip(distance + rng.uniform(-1.0, 1.0), 2.5, 8.5))
        length = 2 * ((depth + 0.5) * half_width + 1.5)  # from well outside one edge to well outside the other
        speed = float(rng.uniform(0.5, 1.3))
        motion = straight_walk(length / speed, fps, speed, cadence=0.55 + 0.35 * speed)
        sign = 1.0 if rng.random() < 0.5 else -1.0
        yaw = float(np.arctan2(sign * right[0], sign * right[2]))
        target = (distance - depth) * towards + rng.uniform(-0.3, 0.3) * right
        placed = place_motion(motion, yaw, target)
        crowd.append(ScenePerson(placed, random_shape(rng), random_outfit(rng), f"visitor {k}", start))
        overlap = rng.random() < overlap_share
        start += int(len(motion) * rng.uniform(0.4, 0.7)) if overlap else len(motion) + int(rng.uniform(1, 8) * fps)
    light = (float(rng.uniform(-0.8, 0.8)), -1.0, float(rng.uniform(-0.8, 0.8)))
    return Scene(crowd, camera, fps, light, 0.5, "tiles", ((160, 150, 135), (130, 120, 110)), (205, 200, 190),
                 4.0, 2.0, 24, (0.0, 0.0, 0.0), "full", int(rng.integers(1 << 31)))
