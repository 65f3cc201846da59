"""A body to render: the shipped CC0 MakeHuman mesh with a shape (sex, ancestry, height, weight, muscle),
its 17 segment pivots, and its 17 ground-truth joints defined like the training data's.

Ground-truth joints (Human3.6M order), each fixed to one segment and placed on the rest body by the same
rules as the mocap-to-Human3.6M mapping the models were trained with (poselift.data.mocap.BANDAI_MAPPING):
- pelvis: midway between the two hip joint centres (MakeHuman `upperleg01` heads);
- hips: on the line through the hip joint centres, widened about the pelvis to 0.166 x the body's height
  (the training data's hip width: 25.9 cm on its 1.56 m actors, whose hip joints the mapping widens 2x);
- knees, ankles: `lowerleg01` and `foot` heads; elbows, wrists: `lowerarm01` and `wrist` heads;
- thorax: the base of the neck (`neck01` head), as the mapping's `Neck` joint;
- spine: 52 % of the way from the pelvis to the thorax (the mapping's Spine-Chest midpoint);
- shoulders: on the line through the `upperarm01` heads, widened about its middle to 0.197 x height
  (the training data's 30.7 cm);
- neck/nose: above the thorax by 0.56 and in front of it by 0.21 of the thorax-to-head-top height;
- head: the top of the skull (the highest head vertex at rest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from poselift.scenes.segments import SEGMENTS

BODY_FILE = Path(__file__).with_name("body_model.npz")
HIP_WIDTH_RATIO = 0.166
SHOULDER_WIDTH_RATIO = 0.197
SPINE_FRACTION = 0.52
NOSE_UP, NOSE_FORWARD = 0.56, 0.21
ANCESTRIES = ("african", "asian", "caucasian")


@dataclass(frozen=True)
class BodyShape:
    """Shape of a body: male in [0, 1], height/weight in [-1, 1] (min..max target), muscle in [0, 1],
    ancestry weights (african, asian, caucasian) summing to 1."""

    male: float = 0.5
    height: float = 0.0
    weight: float = 0.0
    muscle: float = 0.0
    ancestry: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)


def random_shape(rng: np.random.Generator) -> BodyShape:
    """A random young adult: either sex, any ancestry mix, 1.47-1.70 m (women) or 1.62-1.86 m (men) tall,
    slim to heavy."""
    ancestry = rng.dirichlet((0.7, 0.7, 0.7))
    return BodyShape(male=float(rng.choice([rng.uniform(0.0, 0.2), rng.uniform(0.8, 1.0)])),
                     height=float(rng.uniform(-0.3, 0.35)), weight=float(rng.uniform(-0.6, 0.8)),
                     muscle=float(rng.uniform(0.0, 0.6)), ancestry=tuple(float(a) for a in ancestry))


@dataclass
class BodyAsset:
    """The shipped mesh: rest vertices (V, 3) metres, triangles (F, 3), per-vertex segment weights (V, S),
    skeleton joints (K, 3) and shape targets as vertex (N, V, 3) and joint (N, K, 3) offsets."""

    vertices: np.ndarray
    faces: np.ndarray
    face_groups: np.ndarray
    segment_weights: np.ndarray
    joint_names: tuple[str, ...]
    joints: np.ndarray
    target_names: tuple[str, ...]
    target_vertices: np.ndarray
    target_joints: np.ndarray


@lru_cache(maxsize=1)
def load_asset(path: str | Path = BODY_FILE) -> BodyAsset:
    """The body file shipped in the package (derived from the CC0 MakeHuman assets)."""
    with np.load(path) as data:
        return BodyAsset(
            vertices=data["vertices"].astype(np.float64), faces=data["faces"].astype(np.int64),
            face_groups=data["face_groups"], segment_weights=data["segment_weights"].astype(np.float32),
            joint_names=tuple(str(n) for n in data["joint_names"]), joints=data["joints"].astype(np.float64),
            target_names=tuple(str(n) for n in data["target_names"]),
            target_vertices=data["target_vertices"].astype(np.float32),
            target_joints=data["target_joints"].astype(np.float64),
        )


def target_weights(shape: BodyShape, names: tuple[str, ...]) -> np.ndarray:
    """Weight of each MakeHuman target for a shape (MakeHuman's macro blending, simplified)."""
    m, f = shape.male, 1.0 - shape.male
    w = dict.fromkeys(names, 0.0)
    for ancestry, share in zip(ANCESTRIES, shape.ancestry, strict=True):
        w[f"{ancestry}-male-young"] += share * m
        w[f"{ancestry}-female-young"] += share * f
    end = "maxheight" if shape.height > 0 else "minheight"
    w[f"male-young-averagemuscle-averageweight-{end}"] += m * abs(shape.height)
    w[f"female-young-averagemuscle-averageweight-{end}"] += f * abs(shape.height)
    end = "maxweight" if shape.weight > 0 else "minweight"
    w[f"universal-male-young-averagemuscle-{end}"] += m * abs(shape.weight)
    w[f"universal-female-young-averagemuscle-{end}"] += f * abs(shape.weight)
    w["universal-male-young-maxmuscle-averageweight"] += m * shape.muscle
    w["universal-female-young-maxmuscle-averageweight"] += f * shape.muscle
    return np.array([w[n] for n in names])


@dataclass
class Body:
    """One shaped body at rest (A-pose, feet on y = 0, facing +z): vertices (V, 3), segment pivots (S, 3)
    and ground-truth joints (17, 3) with the segment each joint is fixed to."""

    shape: BodyShape
    vertices: np.ndarray
    faces: np.ndarray
    segment_weights: np.ndarray
    pivots: np.ndarray
    joints: np.ndarray
    joint_segments: np.ndarray
    vertex_segment: np.ndarray
    """(V,) the segment with the largest weight (colours clothes by region)."""
    face_groups: np.ndarray = field(repr=False, default=None)

    @property
    def height(self) -> float:
        """Standing height at rest, metres (floor to the top of the skull)."""
        return float(self.vertices[:, 1].max() - self.vertices[:, 1].min())


_JOINT_SEGMENTS = np.array([SEGMENTS.index(s) for s in (
    "pelvis", "thigh_r", "shin_r", "foot_r", "thigh_l", "shin_l", "foot_l", "spine", "chest", "head", "head",
    "chest", "forearm_l", "hand_l", "chest", "forearm_r", "hand_r")])
"""The segment each ground-truth joint moves with (shoulders with the chest, as the mapping's widened
shoulder points move with the upper body)."""


def make_body(shape: BodyShape = BodyShape(), asset: BodyAsset | None = None) -> Body:
    """The rest body of a shape with its pivots and ground-truth joints (see the module docstring)."""
    asset = asset or load_asset()
    w = target_weights(shape, asset.target_names)
    vertices = asset.vertices + np.tensordot(w, asset.target_vertices, axes=1)
    skel = asset.joints + np.tensordot(w, asset.target_joints, axes=1)
    floor = vertices[:, 1].min()
    vertices = vertices - [0.0, floor, 0.0]
    skel = skel - [0.0, floor, 0.0]
    j = {name.split("____")[0] + ("_tail" if name.endswith("tail") else ""): p
         for name, p in zip(asset.joint_names, skel, strict=True)}
    vertex_segment = np.argmax(asset.segment_weights, axis=1)
    height = vertices[:, 1].max()
    head_vertices = vertices[vertex_segment == SEGMENTS.index("head")]
    head_top = head_vertices[np.argmax(head_vertices[:, 1])]
    pelvis = (j["upperleg01.L"] + j["upperleg01.R"]) / 2
    thorax = j["neck01"]

    def widened(left: np.ndarray, right: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
        mid, half = (left + right) / 2, (left - right) / np.linalg.norm(left - right) * width / 2
        return mid + half, mid - half

    left_hip, right_hip = widened(j["upperleg01.L"], j["upperleg01.R"], HIP_WIDTH_RATIO * height)
    left_shoulder, right_shoulder = widened(j["upperarm01.L"], j["upperarm01.R"], SHOULDER_WIDTH_RATIO * height)
    rise = head_top[1] - thorax[1]
    nose = thorax + [0.0, NOSE_UP * rise, NOSE_FORWARD * rise]
    joints = np.stack([
        pelvis, right_hip, j["lowerleg01.R"], j["foot.R"], left_hip, j["lowerleg01.L"], j["foot.L"],
        pelvis + SPINE_FRACTION * (thorax - pelvis), thorax, nose, head_top,
        left_shoulder, j["lowerarm01.L"], j["wrist.L"], right_shoulder, j["lowerarm01.R"], j["wrist.R"],
    ])
    pivots = np.stack([
        pelvis, j["spine04"], j["spine02"], thorax, j["head"],
        j["upperarm01.L"], j["lowerarm01.L"], j["wrist.L"], j["upperarm01.R"], j["lowerarm01.R"], j["wrist.R"],
        j["upperleg01.L"], j["lowerleg01.L"], j["foot.L"], j["upperleg01.R"], j["lowerleg01.R"], j["foot.R"],
    ])
    return Body(shape, vertices, asset.faces, asset.segment_weights, pivots, joints, _JOINT_SEGMENTS,
                vertex_segment, asset.face_groups)
