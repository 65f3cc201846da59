"""2D keypoint layouts of common detectors and their explicit conversion to Human3.6M's 17 joints.

Detectors do not place joints where Human3.6M's motion capture did, so each H36M joint is built from
named source joints with a stated approximation:

- pelvis (0)      = midpoint of the two hips.
- hips (1, 4)     = detector hips pushed apart about the pelvis by `hip_scale` (default 1.15): detector
                    hips sit closer together than H36M's hip joint centres. A heuristic, not a fit.
- knees, ankles, shoulders, elbows, wrists = the source joints of the same name.
- spine (7)       = midpoint of pelvis and thorax (H36M's spine joint sits about there).
- thorax (8)      = midpoint of the shoulders (the base of the neck).
- neck/nose (9)   = the nose; when the nose is missing, 30 % of the way from thorax to the head centre.
- head top (10)   = the layout's own head-top point when it has one (Halpe-26); otherwise extrapolated
                    upwards from the head centre (ear midpoint, else eye midpoint, else nose) by half the
                    thorax -> head-centre distance, along that same direction.

Confidence of a built joint is the minimum of the confidences of the source joints it used; a joint
whose sources are missing gets confidence 0 (its position stays finite but meaningless: the zero
confidence tells later stages, `poselift.video.gaps`, to fill or flag it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poselift.skeleton import H36M17


@dataclass(frozen=True)
class Layout:
    """A 2D keypoint layout: its name and the name of each joint in order (our snake_case names)."""

    name: str
    joint_names: tuple[str, ...]
    description: str = ""

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)


_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)

COCO17 = Layout("coco17", _COCO_NAMES, "COCO keypoints (Detectron2, MMPose, YOLO-pose, AlphaPose-COCO)")

HALPE26 = Layout(
    "halpe26",
    _COCO_NAMES + (
        "head_top", "neck", "mid_hip", "left_big_toe", "right_big_toe", "left_small_toe",
        "right_small_toe", "left_heel", "right_heel",
    ),
    "Halpe full-body 26 keypoints (AlphaPose)",
)

BODY25 = Layout(
    "body25",
    (
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
        "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
        "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    ),
    "OpenPose BODY_25",
)

OPENPOSE_COCO18 = Layout(
    "openpose_coco18",
    (
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
        "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    "OpenPose COCO-18 (with a neck point)",
)

MEDIAPIPE33 = Layout(
    "mediapipe33",
    (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
        "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
        "left_foot_index", "right_foot_index",
    ),
    "MediaPipe BlazePose 33 landmarks",
)

H36M = Layout("h36m17", H36M17.joint_names, "Human3.6M 17 joints (no conversion)")

LAYOUTS: dict[str, Layout] = {
    layout.name: layout for layout in (COCO17, HALPE26, BODY25, OPENPOSE_COCO18, MEDIAPIPE33, H36M)
}
ALIASES = {"coco": "coco17", "halpe": "halpe26", "openpose": "body25", "body_25": "body25",
           "coco18": "openpose_coco18", "mediapipe": "mediapipe33", "blazepose": "mediapipe33",
           "h36m": "h36m17"}

HIP_SCALE = 1.15
"""Default factor by which detector hips are pushed apart about the pelvis to approximate H36M hip joints."""


def get_layout(name: str) -> Layout:
    """A layout by name or alias (coco17/coco, halpe26, body25/openpose, openpose_coco18, mediapipe33, h36m17)."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in LAYOUTS:
        raise KeyError(f"unknown keypoint layout {name!r}; known: {', '.join(LAYOUTS)}")
    return LAYOUTS[key]


def layout_for_joint_count(count: int, candidates: tuple[str, ...] | None = None) -> Layout | None:
    """The first known layout (restricted to `candidates` when given) with `count` joints, or None."""
    for layout in LAYOUTS.values():
        if layout.num_joints == count and (candidates is None or layout.name in candidates):
            return layout
    return None


def _mid(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]):
    return (a[0] + b[0]) / 2, np.minimum(a[1], b[1])


def _choose(*candidates: tuple[np.ndarray, np.ndarray]):
    """Per element, the first candidate with confidence > 0 (the last one when none has)."""
    xy, conf = candidates[-1]
    for cand_xy, cand_conf in reversed(candidates[:-1]):
        use = np.asarray(cand_conf) > 0
        xy = np.where(use[..., None], cand_xy, xy)
        conf = np.where(use, cand_conf, conf)
    return xy, conf


def to_h36m(
    keypoints: np.ndarray, scores: np.ndarray | None, layout: Layout | str, hip_scale: float = HIP_SCALE
) -> tuple[np.ndarray, np.ndarray]:
    """Convert keypoints (..., J, 2) pixels in `layout` with scores (..., J) to H36M (..., 17, 2), (..., 17).

    Scores are confidences in [0, 1] (None = all 1). See the module docstring for each approximation.
    """
    layout = get_layout(layout) if isinstance(layout, str) else layout
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.shape[-2:] != (layout.num_joints, 2):
        raise ValueError(
            f"expected keypoints (..., {layout.num_joints}, 2) for layout {layout.name}, "
            f"found {keypoints.shape}"
        )
    if scores is None:
        scores = np.ones(keypoints.shape[:-1])
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    finite = np.isfinite(keypoints).all(-1)
    keypoints = np.where(finite[..., None], keypoints, 0.0)
    scores = np.where(finite, scores, 0.0)
    if layout.name == H36M.name:
        return keypoints.copy(), scores.copy()

    index = {name: i for i, name in enumerate(layout.joint_names)}

    def get(name: str):
        if name not in index:
            return np.zeros(keypoints.shape[:-2] + (2,)), np.zeros(keypoints.shape[:-2])
        i = index[name]
        return keypoints[..., i, :], scores[..., i]

    l_hip, r_hip = get("left_hip"), get("right_hip")
    pelvis = _mid(l_hip, r_hip)
    l_sh, r_sh = get("left_shoulder"), get("right_shoulder")
    thorax = _mid(l_sh, r_sh)
    spine = _mid(pelvis, thorax)

    def widened(hip):
        return pelvis[0] + hip_scale * (hip[0] - pelvis[0]), np.minimum(hip[1], pelvis[1])

    nose = get("nose")
    ears = _mid(get("left_ear"), get("right_ear"))
    eyes = _mid(get("left_eye"), get("right_eye"))
    head_centre = _choose(ears, eyes, nose)
    up = head_centre[0] - thorax[0]
    extrapolated = head_centre[0] + 0.5 * up, np.minimum(head_centre[1], thorax[1])
    head_top = _choose(get("head_top"), extrapolated)
    neck_guess = thorax[0] + 0.3 * up, np.minimum(head_centre[1], thorax[1])
    neck = _choose(nose, neck_guess)

    joints = {
        "pelvis": pelvis, "right_hip": widened(r_hip), "right_knee": get("right_knee"),
        "right_ankle": get("right_ankle"), "left_hip": widened(l_hip), "left_knee": get("left_knee"),
        "left_ankle": get("left_ankle"), "spine": spine, "thorax": thorax, "neck": neck, "head": head_top,
        "left_shoulder": l_sh, "left_elbow": get("left_elbow"), "left_wrist": get("left_wrist"),
        "right_shoulder": r_sh, "right_elbow": get("right_elbow"), "right_wrist": get("right_wrist"),
    }
    out_xy = np.stack([joints[name][0] for name in H36M17.joint_names], axis=-2)
    out_conf = np.stack([joints[name][1] for name in H36M17.joint_names], axis=-1)
    return out_xy, np.clip(out_conf, 0.0, 1.0)
