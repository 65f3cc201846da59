"""Derive the compact body file the scene renderer ships (src/poselift/scenes/body_model.npz) from the CC0
MakeHuman assets in ../shared/data/human-model (base mesh, skeleton, skinning weights, shape targets).

Kept: the `body` group and the two eyes (triangulated quads), skinning weights summed into the renderer's
17 body segments, the skeleton joints the renderer needs (each the mean of its vertex list, so it follows
every target), and the shape targets (sex, ancestry, height, weight, muscle) as vertex and joint offsets.
Units: metres (the mesh is in decimetres), Y up, the body facing +z.

    python scripts/make_body_asset.py ../shared/data/human-model src/poselift/scenes/body_model.npz
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from poselift.scenes.segments import SEGMENTS, bone_segment

KEEP_GROUPS = ("body", "helper-l-eye", "helper-r-eye")
JOINTS = ("upperleg01.L____head", "upperleg01.R____head", "lowerleg01.L____head", "lowerleg01.R____head",
          "foot.L____head", "foot.R____head", "foot.L____tail", "foot.R____tail", "spine04____head",
          "spine02____head", "neck01____head", "head____head", "head____tail", "upperarm01.L____head",
          "upperarm01.R____head", "lowerarm01.L____head", "lowerarm01.R____head", "wrist.L____head",
          "wrist.R____head")
"""Skeleton joints (bone heads/tails) the renderer reads: segment pivots and ground-truth joints."""


def read_obj(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All vertices (N, 3) decimetres, the kept groups' quads/triangles as triangles (F, 3), and the group
    index (0 body, 1-2 eyes) of each triangle."""
    vertices, faces, groups = [], [], []
    group = None
    for line in path.read_text().splitlines():
        if line.startswith("v "):
            vertices.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("g "):
            group = line.split()[1]
        elif line.startswith("f ") and group in KEEP_GROUPS:
            idx = [int(token.split("/")[0]) - 1 for token in line.split()[1:]]
            for k in range(1, len(idx) - 1):
                faces.append([idx[0], idx[k], idx[k + 1]])
                groups.append(KEEP_GROUPS.index(group))
    return np.array(vertices), np.array(faces), np.array(groups)


def read_target(path: Path, count: int) -> np.ndarray:
    """A MakeHuman target: (count, 3) vertex offsets in decimetres."""
    delta = np.zeros((count, 3))
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            parts = line.split()
            delta[int(parts[0])] = [float(x) for x in parts[1:4]]
    return delta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    src = args.source
    all_vertices, faces, face_groups = read_obj(src / "base.obj")
    kept = np.unique(faces)
    remap = -np.ones(len(all_vertices), dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    skeleton = json.loads((src / "default.mhskel").read_text())
    weights = json.loads((src / "default_weights.mhw").read_text())["weights"]
    segment_weights = np.zeros((len(all_vertices), len(SEGMENTS)))
    for bone, pairs in weights.items():
        s = SEGMENTS.index(bone_segment(bone, skeleton["bones"]))
        for vertex, weight in pairs:
            segment_weights[vertex, s] += weight
    segment_weights = segment_weights[kept]
    segment_weights /= np.maximum(segment_weights.sum(axis=1, keepdims=True), 1e-9)
    joint_lists = [np.array(skeleton["joints"][name]) for name in JOINTS]
    targets = sorted((src / "targets").glob("*.target"))
    deltas = np.stack([read_target(t, len(all_vertices)) for t in targets])

    def joints_of(points: np.ndarray) -> np.ndarray:
        return np.stack([points[..., idx, :].mean(axis=-2) for idx in joint_lists], axis=-2)

    to_m = 0.1
    np.savez_compressed(
        args.out,
        vertices=(all_vertices[kept] * to_m).astype(np.float32),
        faces=remap[faces].astype(np.int32),
        face_groups=face_groups.astype(np.int8),
        segment_weights=segment_weights.astype(np.float16),
        joint_names=np.array(JOINTS),
        joints=(joints_of(all_vertices) * to_m).astype(np.float32),
        target_names=np.array([t.stem for t in targets]),
        target_vertices=(deltas[:, kept] * to_m).astype(np.float16),
        target_joints=(joints_of(deltas) * to_m).astype(np.float32),
        source=np.array("MakeHuman base mesh, default skeleton and weights, targets (CC0 1.0), commit "
                        "a8bc2d54ff0ac92e78ff71431b1023eda42bf482; derived by scripts/make_body_asset.py"),
    )
    print(f"{args.out}: {len(kept)} vertices, {len(faces)} triangles, {len(targets)} targets, "
          f"{args.out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
