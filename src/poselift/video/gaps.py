"""Make a person's 2D track complete before lifting: fill short gaps, mark what could not be seen.

The lifter needs 17 finite joints in every frame. From a track with holes this module returns:
- joints missing (not detected, confidence < `threshold`, or outside the image) for at most `max_gap`
  frames between two observations: interpolated over time (linear, or cubic Hermite whose tangents come
  from the neighbouring observations); their confidence is the smaller one of the two ends;
- frames with no person: `valid` False, confidence 0, keypoints held from the nearest valid frame, unless
  the gap is short, then they are interpolated like joints and stay valid;
- joints still missing in valid frames (legs out of the picture, an arm hidden for long): `flagged` True,
  confidence 0, and a plausible position built from the visible body (torso length and direction, Human3.6M
  proportions: a standing pose with straight legs and hanging arms), so the upper body still lifts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Human3.6M joint indices used below.
PELVIS, R_HIP, R_KNEE, R_ANKLE, L_HIP, L_KNEE, L_ANKLE = 0, 1, 2, 3, 4, 5, 6
SPINE, THORAX, NECK, HEAD = 7, 8, 9, 10
L_SHOULDER, L_ELBOW, L_WRIST, R_SHOULDER, R_ELBOW, R_WRIST = 11, 12, 13, 14, 15, 16

# A standing pose in units of the torso length (thorax to pelvis): (parent, lateral, down) per joint.
# lateral is towards the person's left; Human3.6M mean bone lengths over a 0.49 m torso.
_CANONICAL: dict[int, tuple[int, float, float]] = {
    SPINE: (THORAX, 0.0, 0.5),
    L_HIP: (PELVIS, 0.27, 0.0), R_HIP: (PELVIS, -0.27, 0.0),
    L_KNEE: (L_HIP, 0.0, 0.91), R_KNEE: (R_HIP, 0.0, 0.91),
    L_ANKLE: (L_KNEE, 0.0, 0.93), R_ANKLE: (R_KNEE, 0.0, 0.93),
    NECK: (THORAX, 0.0, -0.24), HEAD: (NECK, 0.0, -0.24),
    L_SHOULDER: (THORAX, 0.31, 0.0), R_SHOULDER: (THORAX, -0.31, 0.0),
    L_ELBOW: (L_SHOULDER, 0.0, 0.57), R_ELBOW: (R_SHOULDER, 0.0, 0.57),
    L_WRIST: (L_ELBOW, 0.0, 0.51), R_WRIST: (R_ELBOW, 0.0, 0.51),
}
_ORDER = (SPINE, L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE, NECK, HEAD,
          L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST)


@dataclass
class CleanTrack:
    """A complete 2D track: every array is finite and covers every frame."""

    keypoints: np.ndarray
    """(T, 17, 2) pixels."""
    confidence: np.ndarray
    """(T, 17) in [0, 1]; 0 for flagged joints and invalid frames."""
    valid: np.ndarray
    """(T,) bool: the person was seen in this frame, or in frames at most max_gap away on both sides."""
    flagged: np.ndarray
    """(T, 17) bool: in a valid frame, not seen and not interpolable; position synthesised."""
    interpolated: np.ndarray
    """(T, 17) bool: filled by interpolation over time."""


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) of each run of True in a 1-D bool array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.diff(padded)
    return list(zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1, strict=True))


def _fill_run(x: np.ndarray, seen: np.ndarray, start: int, end: int, method: str) -> np.ndarray:
    """Values for frames start..end of x (T, C) from the observations just outside (Hermite if cubic)."""
    a, b = start - 1, end + 1
    u = (np.arange(start, end + 1) - a) / (b - a)
    p0, p1 = x[a], x[b]
    if method == "linear":
        return p0 + u[:, None] * (p1 - p0)
    chord = (p1 - p0) / (b - a)  # per frame
    m0 = x[a] - x[a - 1] if a - 1 >= 0 and seen[a - 1] else chord
    m1 = x[b + 1] - x[b] if b + 1 < len(x) and seen[b + 1] else chord
    m0, m1 = m0 * (b - a), m1 * (b - a)
    u = u[:, None]
    h00, h10, h01, h11 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u, -2 * u**3 + 3 * u**2, u**3 - u**2
    return h00 * p0 + h10 * m0 + h01 * p1 + h11 * m1


def short_gaps(seen: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Runs of unseen frames of length <= max_gap with a seen frame on both sides."""
    return [(s, e) for s, e in _runs(~seen) if s > 0 and e < len(seen) - 1 and e - s + 1 <= max_gap]


def clean_track(
    keypoints: np.ndarray,
    confidence: np.ndarray,
    present: np.ndarray,
    image_size: tuple[int, int] | None = None,
    max_gap: int = 10,
    threshold: float = 0.3,
    method: str = "linear",
    margin: float = 0.02,
) -> CleanTrack:
    """Fill and flag a person's track: keypoints (T, 17, 2) pixels, confidence (T, 17), present (T,) bool.

    `image_size` (w, h) makes joints more than `margin` x size outside the picture count as missing.
    Raises ValueError when the person is seen in no frame.
    """
    if method not in ("linear", "cubic"):
        raise ValueError(f"method must be 'linear' or 'cubic', found {method!r}")
    keypoints = np.array(keypoints, dtype=np.float64)
    confidence = np.nan_to_num(np.asarray(confidence, dtype=np.float64), nan=0.0)
    present = np.asarray(present, dtype=bool)
    finite = np.isfinite(keypoints).all(-1)
    seen_joint = present[:, None] & (confidence >= threshold) & finite
    if image_size is not None:
        w, h = image_size
        x, y = keypoints[..., 0], keypoints[..., 1]
        inside = (x >= -margin * w) & (x <= w * (1 + margin)) & (y >= -margin * h) & (y <= h * (1 + margin))
        seen_joint &= inside
    keypoints[~finite] = 0.0
    seen_frame = seen_joint.any(axis=1)
    if not seen_frame.any():
        raise ValueError("the person is seen in no frame")
    num_frames, num_joints = confidence.shape

    valid = seen_frame.copy()
    for s, e in short_gaps(seen_frame, max_gap):
        valid[s : e + 1] = True

    out = keypoints.copy()
    conf = np.where(seen_joint, confidence, 0.0)
    interpolated = np.zeros_like(seen_joint)
    for j in range(num_joints):
        seen = seen_joint[:, j]
        for s, e in short_gaps(seen, max_gap):
            if not valid[s : e + 1].all():
                continue
            out[s : e + 1, j] = _fill_run(keypoints[:, j], seen, s, e, method)
            conf[s : e + 1, j] = min(confidence[s - 1, j], confidence[e + 1, j])
            interpolated[s : e + 1, j] = True

    known = seen_joint | interpolated
    flagged = valid[:, None] & ~known
    _synthesise(out, known, valid)

    # Invalid frames: hold the nearest valid frame (edge padding at both ends, nearest inside long gaps).
    valid_idx = np.nonzero(valid)[0]
    nearest = valid_idx[np.clip(np.searchsorted(valid_idx, np.arange(num_frames)), 0, len(valid_idx) - 1)]
    before = valid_idx[np.clip(np.searchsorted(valid_idx, np.arange(num_frames)) - 1, 0, len(valid_idx) - 1)]
    closer = np.abs(before - np.arange(num_frames)) < np.abs(nearest - np.arange(num_frames))
    nearest = np.where(closer, before, nearest)
    out[~valid] = out[nearest[~valid]]
    conf[~valid] = 0.0
    conf[flagged] = 0.0
    return CleanTrack(out, np.clip(conf, 0.0, 1.0), valid, flagged, interpolated & valid[:, None])


def _unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(norm > 1e-6, v / np.maximum(norm, 1e-6), fallback)


def _torso_length(out: np.ndarray, known: np.ndarray) -> float:
    """Typical thorax-pelvis distance in pixels over the track (from the shoulders or head if needed)."""
    both = known[:, PELVIS] & known[:, THORAX]
    if both.any():
        return float(np.median(np.linalg.norm(out[both, THORAX] - out[both, PELVIS], axis=-1)))
    shoulders = known[:, L_SHOULDER] & known[:, R_SHOULDER]
    if shoulders.any():
        width = np.median(np.linalg.norm(out[shoulders, L_SHOULDER] - out[shoulders, R_SHOULDER], axis=-1))
        return float(width / 0.62)
    head = known[:, HEAD] & known[:, THORAX]
    if head.any():
        return float(np.median(np.linalg.norm(out[head, HEAD] - out[head, THORAX], axis=-1)) / 0.48)
    return 100.0


def _synthesise(out: np.ndarray, known: np.ndarray, valid: np.ndarray) -> None:
    """Give every unknown joint of a valid frame a standing-pose position from the known body, in place."""
    missing = valid[:, None] & ~known
    if not missing.any():
        return
    length = _torso_length(out, known)
    image_down = np.array([0.0, 1.0])
    both = known[:, PELVIS] & known[:, THORAX]
    down = np.where(both[:, None], _unit(out[:, PELVIS] - out[:, THORAX], image_down), image_down)
    # The person's left: from the shoulders, else the hips, else perpendicular to down (facing the camera).
    perpendicular = np.stack([-down[:, 1], down[:, 0]], axis=-1)
    left = perpendicular
    hips = known[:, L_HIP] & known[:, R_HIP]
    left = np.where(hips[:, None], _unit(out[:, L_HIP] - out[:, R_HIP], perpendicular), left)
    shoulders = known[:, L_SHOULDER] & known[:, R_SHOULDER]
    left = np.where(shoulders[:, None], _unit(out[:, L_SHOULDER] - out[:, R_SHOULDER], perpendicular), left)

    have = known.copy()
    rows = valid & ~have[:, THORAX] & have[:, PELVIS]
    out[rows, THORAX] = out[rows, PELVIS] - length * down[rows]
    have[rows, THORAX] = True
    rows = valid & ~have[:, PELVIS] & have[:, THORAX]
    out[rows, PELVIS] = out[rows, THORAX] + length * down[rows]
    have[rows, PELVIS] = True
    # Neither torso joint: anchor the body on any known joint of the frame, else on the nearest frame's pelvis.
    for t in np.nonzero(valid & ~have[:, PELVIS])[0]:
        out[t, PELVIS] = out[t, known[t]].mean(axis=0) if known[t].any() else out[t, PELVIS]
        out[t, THORAX] = out[t, PELVIS] - length * down[t]
        have[t, [PELVIS, THORAX]] = True
    for joint in _ORDER:
        parent, lateral, along = _CANONICAL[joint]
        rows = valid & ~have[:, joint]
        out[rows, joint] = out[rows, parent] + length * (lateral * left[rows] + along * down[rows])
        have[rows, joint] = True
