"""Scene rendering speed: frames per second of poselift.scenes (skinning, rasterising, shadows, noise and
H.264 encoding included) for 1-3 people at a given image size. Prints a table and writes JSON.

    python benchmarks/scene_render.py --width 640 --height 480 --frames 60 --json benchmarks/results/scene_render.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def measure(people: int, width: int, height: int, frames: int) -> dict:
    """Render a scene of `people` procedural walkers and time it (the renderer's set-up included)."""
    from poselift.camera import Camera, look_at
    from poselift.scenes.body import random_shape
    from poselift.scenes.scene import Scene, ScenePerson, random_outfit, render_scene
    from poselift.video.synthetic import walking_poses

    rng = np.random.default_rng(0)
    times = np.arange(frames) / 30.0
    crowd = [ScenePerson(walking_poses(times, start_angle=-2.0 + 1.3 * k) + [0.8 * k, 0.0, 0.5 * k],
                         random_shape(rng), random_outfit(rng)) for k in range(people)]
    position = np.array([0.0, 1.5, -5.5])
    rotation = look_at(position, np.array([0.0, 0.9, 0.0]))
    focal = (width / 2) / np.tan(np.radians(35.0))
    camera = Camera(rotation, -rotation @ position, (focal, focal), (width / 2, height / 2), width, height)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        render_scene(Scene(crowd, camera, noise=2.0), Path(tmp) / "scene.mp4")
        seconds = time.perf_counter() - start
    return {"people": people, "width": width, "height": height, "frames": frames, "seconds": round(seconds, 2),
            "frames_per_s": round(frames / seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = [measure(n, args.width, args.height, args.frames) for n in (1, 2, 3)]
    print("| people | image | frames | seconds | frames/s |\n| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['people']} | {r['width']}x{r['height']} | {r['frames']} | {r['seconds']} | {r['frames_per_s']} |")
    if args.json:
        from poselift.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps({"rows": rows, "machine": {"cpus": os.cpu_count(),
                                                                          "python": platform.python_version()}},
                                                indent=1))


if __name__ == "__main__":
    main()
