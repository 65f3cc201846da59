"""Does a track look like a person over time? Checked before a track is lifted (or streamed).

A 2D detector sometimes sees a person in a table leg or a coat for a few frames, sometimes with high scores.
A track counts as a person when, over the frames it was seen (H36M 17-joint keypoints):
- it lasts at least `min_seconds` (MIN_PERSON_SECONDS, the documented "long enough to be a person") and is
  seen in frames adding up to at least MIN_SEEN_SHARE of that (two stray detections a second apart are not
  a person: the checks below need frames to judge);
- its joints are confident: the median over frames of the mean confidence of its 8 most confident joints
  >= `min_confidence` (legs out of the picture do not count against a person);
- its bones keep their length from frame to frame: the median over bones of each bone's median relative
  change between consecutive seen frames (|L_t - L_t-1| / median length) <= `max_bone_spread`. A person
  turning round foreshortens shoulders and hips to nothing, but smoothly; a phantom's skeleton jumps;
- it moves plausibly: its median frame-to-frame jump of the body centre stays below `max_speed` body
  heights per second (a person walks at about one body height per second, runs at three or four).
The same function serves a sliding window (the live path): pass the window's arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_PERSON_SECONDS = 1.0
"""A track seen for less than this (seconds, first to last frame) is not lifted."""
MIN_SEEN_SHARE = 0.5
"""A track must be seen in frames adding up to this share of `min_seconds` (at the video's frame rate)."""

# Bones (parent, child) of H36M17 used for the length check: limbs and shoulders / hips.
_BONES = ((1, 2), (2, 3), (4, 5), (5, 6), (11, 12), (12, 13), (14, 15), (15, 16), (1, 4), (11, 14), (0, 8))


@dataclass
class PersonCheck:
    """The verdict on one track and the measurements behind it."""

    is_person: bool
    seconds: float
    """First to last seen frame (seconds)."""
    confidence: float
    bone_spread: float
    speed: float
    """Median speed of the body centre (body heights per second)."""
    reasons: list[str] = field(default_factory=list)
    """Why it is not a person (empty when it is)."""


def check_person(
    keypoints: np.ndarray, confidence: np.ndarray, present: np.ndarray, fps: float,
    min_seconds: float = MIN_PERSON_SECONDS, min_confidence: float = 0.5, max_bone_spread: float = 0.15,
    max_speed: float = 4.0, threshold: float = 0.3,
) -> PersonCheck:
    """Judge a track: keypoints (T, 17, 2) pixels, confidence (T, 17), present (T,) bool, fps (frames/s)."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    confidence = np.nan_to_num(np.asarray(confidence, dtype=np.float64))
    present = np.asarray(present, dtype=bool)
    frames = np.nonzero(present)[0]
    if len(frames) == 0:
        return PersonCheck(False, 0.0, 0.0, np.inf, np.inf, ["never seen"])
    seconds = (frames[-1] - frames[0]) / fps
    best = np.sort(confidence[frames], axis=1)[:, -8:]
    mean_confidence = float(np.median(best.mean(axis=1)))
    seen = confidence[frames] >= threshold
    points = keypoints[frames]

    spreads = []
    for a, b in _BONES:
        both = seen[:, a] & seen[:, b]
        if both.sum() >= 3:
            lengths = np.linalg.norm(points[both, a] - points[both, b], axis=-1)
            middle = np.median(lengths)
            if middle > 1e-6:
                spreads.append(np.median(np.abs(np.diff(lengths))) / middle)
    bone_spread = float(np.median(spreads)) if spreads else 0.0

    heights = np.array([np.ptp(p[s, 1]) if s.sum() >= 2 else np.nan for p, s in zip(points, seen, strict=True)])
    height = float(np.nanmedian(heights)) if np.isfinite(heights).any() else 0.0
    centres = np.array([p[s].mean(axis=0) if s.any() else p.mean(axis=0) for p, s in zip(points, seen, strict=True)])
    if len(frames) >= 2 and height > 1e-6:
        steps = np.linalg.norm(np.diff(centres, axis=0), axis=-1) / np.diff(frames)
        speed = float(np.median(steps) * fps / height)
    else:
        speed = 0.0

    reasons = []
    if seconds < min_seconds:
        reasons.append(f"seen for {seconds:.2f} s < {min_seconds:g} s")
    elif len(frames) < MIN_SEEN_SHARE * min_seconds * fps:
        reasons.append(f"seen in {len(frames)} frames < {MIN_SEEN_SHARE * min_seconds * fps:.0f}")
    if mean_confidence < min_confidence:
        reasons.append(f"confidence {mean_confidence:.2f} < {min_confidence:g}")
    if bone_spread > max_bone_spread:
        reasons.append(f"bone lengths vary by {bone_spread:.2f} > {max_bone_spread:g}")
    if speed > max_speed:
        reasons.append(f"moves {speed:.1f} body heights/s > {max_speed:g}")
    return PersonCheck(not reasons, seconds, mean_confidence, bone_spread, speed, reasons)


class PersonGate:
    """The live form of check_person: over the last `window` seconds of frames, is someone who looks like a
    person there? `update` takes one frame and answers; a person is streamed only once they have been seen
    plausibly for most of a window (about 0.8 s), and nobody is streamed while no one (or a phantom) is there."""

    def __init__(self, window: float = 1.0, **limits: float):
        self.window = float(window)
        self.limits = limits
        self._frames: list[tuple[float, np.ndarray, np.ndarray, bool]] = []

    def update(self, keypoints: np.ndarray, confidence: np.ndarray | None, present: bool, time: float) -> bool:
        """One frame: keypoints (17, 2) (any consistent unit), confidence (17,) or None (all 1), present (someone
        detected), time (seconds) -> whether a person is there to stream."""
        conf = np.ones(17) if confidence is None else np.asarray(confidence, dtype=np.float64)
        self._frames.append((float(time), np.asarray(keypoints, dtype=np.float64), conf, bool(present)))
        while self._frames and self._frames[0][0] < time - self.window:
            self._frames.pop(0)
        if not present or len(self._frames) < 3:
            return False
        times = np.array([f[0] for f in self._frames])
        steps = np.diff(times)
        fps = 1.0 / float(np.median(steps[steps > 0])) if (steps > 0).any() else 30.0
        shown = np.array([f[3] for f in self._frames])
        points = np.stack([np.where(f[3], f[1].T, 0.0).T for f in self._frames])
        verdict = check_person(points, np.stack([f[2] for f in self._frames]), shown, fps,
                               min_seconds=0.8 * self.window, **self.limits)
        return verdict.is_person
