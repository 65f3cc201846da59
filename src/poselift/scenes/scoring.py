"""Score 3D poses from video against a rendered scene's truth: per person, the matched frames' errors
(MPJPE root-aligned, P-MPJPE, N-MPJPE, per joint, acceleration, root position, body size, torso lean, foot
skating, floor penetration) and the detection-level scores (recall, false poses, identity switches).

Predictions are matched to true people frame by frame in 2D: a pose belongs to the true person whose
visible joints its 2D keypoints lie closest to, within a quarter of that person's height in the image.
A true person counts (for recall) in frames where at least 9 of their joints are visible; a pose that lies
on a person who is in view with fewer visible joints (cut by the picture's border, or mostly hidden
behind someone) is neither a hit nor a false pose, and is counted apart (`partly_seen_poses`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poselift.metrics import n_mpjpe_errors, p_mpjpe_errors, position_errors
from poselift.scenes.scene import Truth
from poselift.skeleton import H36M17

MATCH_FRACTION = 0.25
PARTLY_SEEN_JOINTS = 3
"""A person with at least this many visible joints (but too few to count for recall) is a real person in view."""
CONTACT_HEIGHT = 0.04
CONTACT_SPEED = 0.3


@dataclass
class Predicted:
    """One predicted person (track) over the video's T frames: valid (T,), 2D (T, 17, 2) pixels, root-relative
    camera-frame poses (T, 17, 3); optionally the root trajectory (T, 3) camera frame and world poses (T, 17, 3)
    on the method's own floor (y up)."""

    id: int
    valid: np.ndarray
    keypoints_2d: np.ndarray
    poses_3d: np.ndarray
    trajectory: np.ndarray | None = None
    poses_world: np.ndarray | None = None


def match(predicted: list[Predicted], truth: Truth) -> np.ndarray:
    """(P_true, T) index into `predicted` of the pose matched to each true person in each frame, -1 if none."""
    people, frames = truth.visible.shape[:2]
    out = np.full((people, frames), -1)
    present = truth.present()
    for t in range(frames):
        pairs = []
        for g in range(people):
            if not present[g, t]:
                continue
            seen = truth.visible[g, t]
            gt = truth.joints_2d[g, t]
            size = max(np.ptp(gt[seen, 1]), np.ptp(gt[seen, 0]), 1.0)
            for k, p in enumerate(predicted):
                if p.valid[t]:
                    d = np.median(np.linalg.norm(p.keypoints_2d[t, seen] - gt[seen], axis=-1)) / size
                    if d < MATCH_FRACTION:
                        pairs.append((d, g, k))
        used_g, used_k = set(), set()
        for _, g, k in sorted(pairs):
            if g not in used_g and k not in used_k:
                out[g, t] = k
                used_g.add(g)
                used_k.add(k)
    return out


def on_partly_seen(predicted: list[Predicted], truth: Truth) -> np.ndarray:
    """(K, T) bool: pose k lies on a true person who is in view but does not count for recall in frame t
    (PARTLY_SEEN_JOINTS or more visible joints, fewer than `present` needs): median distance over their
    visible joints under MATCH_FRACTION of their whole body's size in the image (border-cut joints included)."""
    out = np.zeros((len(predicted), truth.visible.shape[1]), bool)
    count = truth.visible.sum(axis=-1)
    partly = (count >= PARTLY_SEEN_JOINTS) & ~truth.present()
    for g, t in zip(*np.nonzero(partly), strict=True):
        seen, gt = truth.visible[g, t], truth.joints_2d[g, t]
        size = max(float(np.nanmax(np.ptp(gt, axis=0))), 1.0)
        for k, p in enumerate(predicted):
            distance = np.median(np.linalg.norm(p.keypoints_2d[t, seen] - gt[seen], axis=-1)) / size
            out[k, t] = out[k, t] or (bool(p.valid[t]) and distance < MATCH_FRACTION)
    return out


def _lean(poses: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(N,) angle in degrees between the torso (pelvis -> thorax) and `up`."""
    torso = poses[:, 8] - poses[:, 0]
    cos = (torso @ up) / np.maximum(np.linalg.norm(torso, axis=-1), 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _bone_sum(poses: np.ndarray) -> np.ndarray:
    parents = np.array(H36M17.parents)
    return np.linalg.norm(poses[:, 1:] - poses[:, parents[1:]], axis=-1).sum(axis=-1)


def score_person(pred: Predicted, truth: Truth, g: int, frames: np.ndarray, up_camera: np.ndarray) -> dict:
    """Errors of one predicted track on true person g over `frames` (indices where they are matched).

    Returns per-frame arrays (for pooling) under "frames_*" keys and the clip's means.
    """
    gt_cam = truth.joints_camera[g, frames]
    gt_rel = gt_cam - gt_cam[:, :1]
    pr = pred.poses_3d[frames]
    pr = pr - pr[:, :1]
    out: dict = {"frames": int(len(frames))}
    per_frame = position_errors(pr, gt_rel)
    out["per_joint"] = per_frame
    out["mpjpe"] = per_frame.mean(axis=1)
    out["p_mpjpe"] = p_mpjpe_errors(pr, gt_rel).mean(axis=1)
    out["n_mpjpe"] = n_mpjpe_errors(pr, gt_rel).mean(axis=1)
    step = np.diff(frames)
    triple = np.nonzero((step[:-1] == 1) & (step[1:] == 1))[0]
    if len(triple):
        acc_p = pr[triple] - 2 * pr[triple + 1] + pr[triple + 2]
        acc_g = gt_rel[triple] - 2 * gt_rel[triple + 1] + gt_rel[triple + 2]
        out["accel"] = np.linalg.norm(acc_p - acc_g, axis=-1).mean(axis=1)
    else:
        out["accel"] = np.zeros(0)
    out["size_ratio"] = _bone_sum(pr) / np.maximum(_bone_sum(gt_rel), 1e-9)
    out["lean_error"] = _lean(pr, up_camera) - _lean(gt_rel, up_camera)
    if pred.trajectory is not None:
        root = np.linalg.norm(pred.trajectory[frames] - gt_cam[:, 0], axis=-1)
        out["root_error"] = root
        out["root_error_pct"] = 100 * root / np.maximum(np.linalg.norm(gt_cam[:, 0], axis=-1), 1e-9)
    if pred.poses_world is not None:
        out.update(_feet(pred.poses_world, truth.joints_world[g], frames, truth.times))
    return out


def _feet(pred_world: np.ndarray, gt_world: np.ndarray, frames: np.ndarray, times: np.ndarray) -> dict:
    """Foot skating (predicted ankle's horizontal speed, m/s) and floor penetration (how far the predicted
    ankle sits below its true height above the floor, m) over the frames where a true ankle is in contact."""
    dt = float(np.median(np.diff(times))) if len(times) > 1 else 1 / 30
    skate, sink = [], []
    for ankle in (3, 6):
        height = gt_world[:, ankle, 1]
        speed = np.r_[0.0, np.linalg.norm(np.diff(gt_world[:, ankle, [0, 2]], axis=0), axis=-1) / dt]
        with np.errstate(invalid="ignore"):
            contact = (height < np.nanmin(height) + CONTACT_HEIGHT) & (speed < CONTACT_SPEED)
        sel = frames[contact[frames]]
        sel = sel[(sel > 0) & np.isin(sel - 1, frames)]
        if len(sel):
            step = pred_world[sel, ankle][:, [0, 2]] - pred_world[sel - 1, ankle][:, [0, 2]]
            skate.append(np.linalg.norm(step, axis=-1) / dt)
            sink.append(np.maximum(0.0, height[sel] - pred_world[sel, ankle, 1]))
    return {"foot_skate": np.concatenate(skate) if skate else np.zeros(0),
            "floor_penetration": np.concatenate(sink) if sink else np.zeros(0)}


def detection_scores(assignment: np.ndarray, predicted: list[Predicted], truth: Truth) -> dict:
    """Recall, false poses (valid poses on nobody: matched to no counted person and lying on no partly seen
    one), poses on partly seen people, identity switches and tracks per true person from a match() assignment."""
    present = truth.present()
    valid = np.stack([p.valid for p in predicted]) if predicted else np.zeros((0, truth.visible.shape[1]), bool)
    matched_pose = np.zeros_like(valid)
    switches, tracks = 0, []
    for g in range(assignment.shape[0]):
        seq = assignment[g][assignment[g] >= 0]
        switches += int((np.diff(seq) != 0).sum())
        tracks.append(len(np.unique(seq)))
        for t in np.nonzero(assignment[g] >= 0)[0]:
            matched_pose[assignment[g, t], t] = True
    unmatched = valid & ~matched_pose
    partly = on_partly_seen(predicted, truth) if len(predicted) else np.zeros_like(valid)
    return {
        "present_frames": int(present.sum()), "recalled_frames": int((assignment >= 0).sum()),
        "valid_poses": int(valid.sum()), "false_poses": int((unmatched & ~partly).sum()),
        "partly_seen_poses": int((unmatched & partly).sum()),
        "id_switches": switches, "tracks_per_person": tracks,
    }


def score_scene(predicted: list[Predicted], truth: Truth, camera_rotation: np.ndarray
                ) -> tuple[np.ndarray, list[dict], dict]:
    """Everything about one method on one scene: the match() assignment, the per-(true person, track)
    score_person parts and the detection scores. camera_rotation: world -> camera (3, 3)."""
    up = np.asarray(camera_rotation) @ np.array([0.0, 1.0, 0.0])
    assignment = match(predicted, truth)
    parts = [score_person(predicted[k], truth, g, np.nonzero(assignment[g] == k)[0], up)
             for g in range(assignment.shape[0]) for k in np.unique(assignment[g][assignment[g] >= 0])]
    return assignment, parts, detection_scores(assignment, predicted, truth)


POOLED = {"mpjpe": "mpjpe_mm", "p_mpjpe": "p_mpjpe_mm", "n_mpjpe": "n_mpjpe_mm", "accel": "accel_error_mm",
          "root_error": "root_error_m", "root_error_pct": "root_error_pct", "size_ratio": "size_ratio",
          "lean_error": "lean_error_deg", "foot_skate": "foot_skate_m_s", "floor_penetration": "floor_penetration_mm"}
_MM = {"mpjpe", "p_mpjpe", "n_mpjpe", "accel", "floor_penetration"}


def summarise(parts: list[dict], detections: list[dict]) -> dict:
    """Pool per-frame errors of many (clip, view, person) parts and their detection scores into one summary."""
    out: dict = {}
    for key, name in POOLED.items():
        values = [p[key] for p in parts if key in p and len(p[key])]
        if not values:
            out[name] = None
            continue
        v = np.concatenate(values)
        value = float(v.mean()) * (1000.0 if key in _MM else 1.0)
        out[name] = round(value, 4 if key in ("size_ratio", "root_error") else 2)
    leans = [p["lean_error"] for p in parts if "lean_error" in p and len(p["lean_error"])]
    out["lean_abs_error_deg"] = round(float(np.abs(np.concatenate(leans)).mean()), 2) if leans else None
    joints = [p["per_joint"] for p in parts if len(p.get("per_joint", []))]
    if joints:
        means = np.round(np.concatenate(joints).mean(axis=0) * 1000, 1).tolist()
        out["per_joint_mm"] = dict(zip(H36M17.joint_names, means, strict=True))
    else:
        out["per_joint_mm"] = None
    present = sum(d["present_frames"] for d in detections)
    valid = sum(d["valid_poses"] for d in detections)
    out["recall"] = round(sum(d["recalled_frames"] for d in detections) / max(present, 1), 4)
    out["false_pose_rate"] = round(sum(d["false_poses"] for d in detections) / max(valid, 1), 4)
    out["partly_seen_pose_rate"] = round(sum(d.get("partly_seen_poses", 0) for d in detections) / max(valid, 1), 4)
    out["id_switches_per_1000"] = round(1000 * sum(d["id_switches"] for d in detections) / max(present, 1), 3)
    tracks = [n for d in detections for n in d["tracks_per_person"]]
    out["tracks_per_person"] = round(float(np.mean(tracks)), 3) if tracks else None
    out["frames_scored"] = int(sum(p["frames"] for p in parts))
    return out
