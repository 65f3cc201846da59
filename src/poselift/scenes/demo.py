"""The demo's scene and scores: one person of a fixed shape walking a procedural path in front of a phone
held at chest height, and the errors of poselift and MediaPipe's own 3D against its truth."""

from __future__ import annotations

import numpy as np

from poselift.camera import Camera, look_at
from poselift.scenes.benchmark import mediapipe_people, poselift_people
from poselift.scenes.body import BodyShape
from poselift.scenes.scene import Outfit, Scene, ScenePerson, Truth
from poselift.scenes.scoring import score_scene, summarise
from poselift.video.synthetic import walking_poses

DEMO_FPS = 30.0


def demo_scene(seconds: float = 5.0, width: int = 640, height: int = 360) -> Scene:
    """A woman of average build walking part of a circle 5 m in front of a camera 1.4 m high, 65 degrees."""
    times = np.arange(int(round(seconds * DEMO_FPS))) / DEMO_FPS
    motion = walking_poses(times)
    position = np.array([0.0, 1.4, -5.0])
    rotation = look_at(position, np.array([0.0, 0.9, 0.0]))
    focal = (width / 2) / np.tan(np.radians(65.0) / 2)
    camera = Camera(rotation, -rotation @ position, (focal, focal), (width / 2, height / 2), width, height,
                    name="demo")
    person = ScenePerson(motion, BodyShape(male=0.2, height=0.1, weight=0.1),
                         Outfit((210, 160, 120), (70, 45, 25), (40, 70, 160), (35, 35, 40), (230, 230, 225)),
                         "procedural walk")
    return Scene([person], camera, DEMO_FPS, light=(0.5, -1.0, 0.4), floor="tiles", noise=2.0, crf=23, seed=1)


def score_demo(result, truth: Truth, scene: Scene) -> dict:
    """Summary scores (see poselift.scenes.scoring.summarise) of poselift and of MediaPipe's own 3D."""
    out = {}
    for method, predicted in (("poselift", poselift_people(result)),
                              ("mediapipe", mediapipe_people(result.detections, len(truth.times)))):
        _, parts, detections = score_scene(predicted, truth, scene.camera.R)
        out[method] = summarise(parts, [detections])
    return out
