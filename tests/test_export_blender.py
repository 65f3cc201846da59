"""Slow: import a written BVH into real Blender (headless) and check bones, frames and a joint's position.

CI installs Blender with: apt-get install -y --no-install-recommends blender (Debian 12: Blender 3.4).
Skips when the `blender` executable is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from poselift.export.bvh_writer import export_bvh
from poselift.export.rig import POINT_JOINT, STANDARD_LENGTHS, rest_pose
from poselift.export.world import camera_to_world

SCRIPT = r"""
import builtins, json, sys, bpy
import io_anim_bvh.import_bvh as importer
# Debian's Blender 3.4 runs on Python 3.11, where the importer's open(path, "rU") fails: drop the "U".
importer.open = lambda file, mode="r", *a, **k: builtins.open(file, mode.replace("U", ""), *a, **k)
args = json.loads(sys.argv[sys.argv.index("--") + 1])
for obj in list(bpy.data.objects):
    bpy.data.objects.remove(obj, do_unlink=True)
bpy.ops.import_anim.bvh(filepath=args["bvh"], global_scale=1.0, use_fps_scale=False,
                        update_scene_fps=True, update_scene_duration=True, rotate_mode="NATIVE",
                        axis_forward="-Z", axis_up="Y")
armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
scene = bpy.context.scene
action = armature.animation_data.action
out = {"bones": [b.name for b in armature.data.bones], "frame_start": action.frame_range[0],
       "frame_end": action.frame_range[1], "fps": scene.render.fps / scene.render.fps_base, "positions": {}}
for frame in args["frames"]:
    scene.frame_set(frame)
    bpy.context.view_layer.update()
    out["positions"][str(frame)] = {b.name: list(armature.matrix_world @ b.head) for b in armature.pose.bones}
with open(args["out"], "w") as f:
    json.dump(out, f)
"""


@pytest.mark.slow
def test_blender_imports_the_bvh(tmp_path):
    blender = shutil.which("blender")
    if blender is None:
        pytest.skip("blender is not installed (apt-get install -y --no-install-recommends blender)")
    frames = 24
    t = np.arange(frames) / 24.0
    rest = rest_pose(STANDARD_LENGTHS)
    world = np.repeat(rest[None], frames, axis=0)
    world[:, 13] += np.stack([0 * t, 0.2 * np.sin(4 * t), 0.1 * t], axis=-1)  # the left wrist waves
    world += np.stack([0.3 * t, 0 * t, -0.5 * t], axis=-1)[:, None]  # the body walks
    path = tmp_path / "motion.bvh"
    animation = export_bvh(camera_to_world(world), path, fps=24, units="m")
    out = tmp_path / "blender.json"
    check = [1, 12, 24]
    args = json.dumps({"bvh": str(path), "out": str(out), "frames": check})
    result = subprocess.run([blender, "-b", "--factory-startup", "--python-expr", SCRIPT, "--", args],
                            capture_output=True, text=True, timeout=300)
    assert out.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    got = json.loads(out.read_text())
    assert sorted(got["bones"]) == sorted(animation.rig.names)
    assert got["frame_end"] - got["frame_start"] + 1 == frames
    assert got["fps"] == pytest.approx(24)
    # Blender is Z up: with forward -Z / up Y our (x, y, z) lands at (x, -z, y). Bone heads are the joints.
    names = animation.rig.names
    for frame in check:
        for point, joint in ((13, POINT_JOINT[13]), (0, 0), (6, POINT_JOINT[6])):
            x, y, z = animation.joints[frame - 1, point]
            np.testing.assert_allclose(got["positions"][str(frame)][names[joint]], [x, -z, y], atol=0.01)
