"""Follow people across frames: stable ids from per-frame detections, and the choice of the main person.

Each frame, live tracks are predicted forward with a constant-velocity model, then matched to the frame's
detections by a cost mixing the mean keypoint distance (in units of the person's size) and the bounding
box overlap; the assignment is Hungarian (scipy) or greedy when scipy is absent, in two rounds (a short
form of DeepSORT's cascade): first the tracks seen in the last RECENT_SECONDS, then those unseen for longer
among the detections left. One assignment over all tracks at once would rather give a person to a track
lost a second ago and a stray detection to the person's own track than leave one of the two unmatched.
Matches whose keypoints moved more than `max_distance` body sizes are refused. Unmatched detections start
new tracks; tracks unseen for `max_age` frames end. When every detection already carries a track id (AlphaPose `idx`,
OpenPose `person_id`), those ids are kept as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from poselift.video.keypoint_files import Detection

MIN_SCORE = 0.2
"""Keypoints below this confidence are ignored for boxes and matching."""
MAX_SIZE_RATIO = 1.6
"""A match may not change a person's size (box diagonal) by more than this factor."""
DUPLICATE_DISTANCE = 0.05
"""Two detections in one frame whose keypoints lie this close (mean, in body sizes) are one person."""
RECENT_SECONDS = 0.2
"""Tracks seen this recently (seconds) are matched before the tracks unseen for longer."""
LINK_SECONDS = 2.0
"""Longest gap (seconds) across which two fragments can be re-linked into one person."""


@dataclass
class Track:
    """One person over time: the frames they were seen in and their detections there."""

    id: int
    frames: list[int] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)

    def dense(self, num_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arrays over all frames: keypoints (T, J, 2) pixels, scores (T, J), present (T,) bool."""
        num_joints = self.detections[0].keypoints.shape[0]
        keypoints = np.zeros((num_frames, num_joints, 2))
        scores = np.zeros((num_frames, num_joints))
        present = np.zeros(num_frames, dtype=bool)
        for t, det in zip(self.frames, self.detections, strict=True):
            if t < num_frames:
                keypoints[t], scores[t], present[t] = det.keypoints, det.scores, True
        return keypoints, scores, present

    @property
    def importance(self) -> float:
        """Size x duration: the sum over its frames of the person's box diagonal (pixels x frames)."""
        return float(sum(_diagonal(_box(d)) for d in self.detections))


def _box(det: Detection) -> np.ndarray:
    """(4,) x0, y0, x1, y1 from the confident keypoints (or the detection's own box)."""
    good = det.scores >= MIN_SCORE
    if good.sum() >= 2:
        pts = det.keypoints[good]
        return np.concatenate([pts.min(0), pts.max(0)])
    if det.bbox is not None:
        return np.asarray(det.bbox, dtype=np.float64)
    pts = det.keypoints
    return np.concatenate([pts.min(0), pts.max(0)])


def _diagonal(box: np.ndarray) -> float:
    return float(np.hypot(box[2] - box[0], box[3] - box[1]))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Live:
    track: Track
    keypoints: np.ndarray  # (J, 2) last seen
    scores: np.ndarray  # (J,)
    velocity: np.ndarray  # (J, 2) pixels per frame
    last_frame: int
    size: float

    def predict(self, t: int) -> np.ndarray:
        return self.keypoints + self.velocity * (t - self.last_frame)


def _assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost matching of rows to columns (np.inf = forbidden)."""
    if cost.size == 0:
        return []
    finite = np.where(np.isfinite(cost), cost, 1e6)
    try:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(finite)
        pairs = list(zip(rows.tolist(), cols.tolist(), strict=True))
    except ImportError:
        pairs = []
        used_r, used_c = set(), set()
        for flat in np.argsort(finite, axis=None):
            r, c = np.unravel_index(flat, finite.shape)
            if r not in used_r and c not in used_c:
                pairs.append((int(r), int(c)))
                used_r.add(r)
                used_c.add(c)
    return [(r, c) for r, c in pairs if np.isfinite(cost[r, c])]


def _cost(live: _Live, det: Detection, t: int, max_distance: float) -> float:
    predicted = live.predict(t)
    both = (live.scores >= MIN_SCORE) & (det.scores >= MIN_SCORE)
    if both.sum() < 2:
        both = np.ones_like(both)
    distance = np.linalg.norm(predicted[both] - det.keypoints[both], axis=-1).mean() / max(live.size, 1.0)
    if distance > max_distance:
        return np.inf
    ratio = _diagonal(_box(det)) / max(live.size, 1.0)
    if not 1 / MAX_SIZE_RATIO <= ratio <= MAX_SIZE_RATIO:
        return np.inf
    pred_det = Detection(predicted, live.scores)
    return float(distance + 0.5 * (1.0 - _iou(_box(pred_det), _box(det))))


def _cascade(live: list[_Live], detections: list[Detection], t: int, max_distance: float,
             recent: int) -> list[tuple[int, int]]:
    """(track, detection) index pairs matched at frame t: first the tracks seen in the last `recent` frames,
    then the older tracks among the detections still free."""
    cost = np.array([[_cost(tr, det, t, max_distance) for det in detections] for tr in live])
    cost = cost.reshape(len(live), len(detections))
    pairs: list[tuple[int, int]] = []
    free = list(range(len(detections)))
    for older in (False, True):
        rows = [r for r, tr in enumerate(live) if (t - tr.last_frame > recent) == older]
        if rows and free:
            pairs.extend((rows[r], free[c]) for r, c in _assign(cost[np.ix_(rows, free)]))
            free = [c for c in free if c not in {p[1] for p in pairs}]
    return pairs


def track_people(
    frames: list[list[Detection]], max_age: int = 30, max_distance: float = 0.5, use_given_ids: bool = True,
    fps: float = 30.0, link_seconds: float = LINK_SECONDS,
) -> list[Track]:
    """Link per-frame detections into tracks with stable ids, then re-link fragments of one person across
    gaps up to `link_seconds` (0: never); returns tracks sorted by id. `fps`: the frames' rate (frames/s)."""
    if use_given_ids and _all_have_ids(frames):
        tracks: dict[int, Track] = {}
        for t, detections in enumerate(frames):
            for det in detections:
                track = tracks.setdefault(det.track_id, Track(det.track_id))
                if track.frames and track.frames[-1] == t:  # duplicate id in one frame: keep the first
                    continue
                track.frames.append(t)
                track.detections.append(det)
        return [tracks[k] for k in sorted(tracks)]

    live: list[_Live] = []
    finished: list[Track] = []
    recent = max(1, int(round(RECENT_SECONDS * fps)))
    next_id = 0
    for t, detections in enumerate(frames):
        detections = remove_duplicates(detections)
        still = []
        for tr in live:
            if t - tr.last_frame <= max_age:
                still.append(tr)
            else:
                finished.append(tr.track)
        live = still
        matched_det: set[int] = set()
        for r, c in _cascade(live, detections, t, max_distance, recent):
            tr, det = live[r], detections[c]
            gap = t - tr.last_frame
            new_velocity = (det.keypoints - tr.keypoints) / gap
            tr.velocity = 0.5 * tr.velocity + 0.5 * new_velocity if len(tr.track.frames) > 1 else new_velocity
            tr.keypoints, tr.scores, tr.last_frame = det.keypoints, det.scores, t
            tr.size = 0.8 * tr.size + 0.2 * _diagonal(_box(det))
            tr.track.frames.append(t)
            tr.track.detections.append(det)
            matched_det.add(c)
        for c, det in enumerate(detections):
            if c in matched_det:
                continue
            track = Track(next_id, [t], [det])
            next_id += 1
            live.append(_Live(track, det.keypoints, det.scores, np.zeros_like(det.keypoints), t,
                              _diagonal(_box(det))))
    finished.extend(tr.track for tr in live)
    if link_seconds > 0:
        finished = link_fragments(finished, fps, link_seconds)
    return sorted(finished, key=lambda tr: tr.id)


def remove_duplicates(detections: list[Detection]) -> list[Detection]:
    """One detection per person: of two whose keypoints lie within DUPLICATE_DISTANCE body sizes, the less
    confident goes (people crossing differ by more than that)."""
    if len(detections) < 2:
        return detections
    order = sorted(range(len(detections)), key=lambda k: -_confidence(detections[k]))
    kept: list[int] = []
    for k in order:
        if all(_keypoint_distance(detections[k], detections[j]) >= DUPLICATE_DISTANCE for j in kept):
            kept.append(k)
    return [detections[k] for k in sorted(kept)]


def _keypoint_distance(a: Detection, b: Detection) -> float:
    """Mean distance between the joints both see confidently, in units of the larger body size."""
    both = (a.scores >= MIN_SCORE) & (b.scores >= MIN_SCORE)
    if both.sum() < 2:
        both = np.ones_like(both)
    size = max(_diagonal(_box(a)), _diagonal(_box(b)), 1.0)
    return float(np.linalg.norm(a.keypoints[both] - b.keypoints[both], axis=-1).mean() / size)


def _confidence(det: Detection) -> float:
    return float(det.score) if det.score is not None else float(np.mean(det.scores))


def _centre(det: Detection) -> np.ndarray:
    box = _box(det)
    return (box[:2] + box[2:]) / 2


def _shape(det: Detection) -> np.ndarray:
    """The pose's 2D shape: keypoints (J, 2) centred on the box and divided by its diagonal."""
    box = _box(det)
    return (det.keypoints - (box[:2] + box[2:]) / 2) / max(_diagonal(box), 1.0)


def _end_motion(track: Track, frames: int = 5) -> np.ndarray:
    """Velocity (2,) pixels per frame of the box centre over the track's last few frames."""
    if len(track.frames) < 2:
        return np.zeros(2)
    k = max(0, len(track.frames) - frames - 1)
    span = track.frames[-1] - track.frames[k]
    return (_centre(track.detections[-1]) - _centre(track.detections[k])) / max(span, 1)


def _link_cost(before: Track, after: Track, fps: float, link_seconds: float) -> float:
    """How well `after` continues `before` (lower is better); inf when it cannot be the same person."""
    gap = after.frames[0] - before.frames[-1]
    if gap <= 0 or gap > link_seconds * fps:
        return np.inf
    end, start = before.detections[-1], after.detections[0]
    size = (_diagonal(_box(end)) + _diagonal(_box(start))) / 2
    ratio = _diagonal(_box(start)) / max(_diagonal(_box(end)), 1.0)
    if not 1 / MAX_SIZE_RATIO <= ratio <= MAX_SIZE_RATIO:
        return np.inf
    predicted = _centre(end) + _end_motion(before) * min(gap, fps)  # no prediction beyond a second
    distance = np.linalg.norm(predicted - _centre(start)) / max(size, 1.0)
    gate = 0.5 + 0.75 * gap / fps  # body sizes: widens with the time the person was unseen
    if distance > gate:
        return np.inf
    both = (end.scores >= MIN_SCORE) & (start.scores >= MIN_SCORE)
    shape = float(np.linalg.norm(_shape(end)[both] - _shape(start)[both], axis=-1).mean()) if both.sum() >= 4 else 0.3
    if shape > 0.35:
        return np.inf
    return distance / gate + shape + 0.1 * gap / fps


def link_fragments(tracks: list[Track], fps: float = 30.0, link_seconds: float = LINK_SECONDS) -> list[Track]:
    """Join fragments of one person: the cheapest admissible (ended, started-later) pairs first, each track
    continued at most once; the joined track keeps the earlier id."""
    tracks = sorted(tracks, key=lambda tr: tr.frames[0])
    pairs = []
    for i, before in enumerate(tracks):
        for j, after in enumerate(tracks):
            if i != j:
                cost = _link_cost(before, after, fps, link_seconds)
                if np.isfinite(cost):
                    pairs.append((cost, i, j))
    successor: dict[int, int] = {}
    has_predecessor: set[int] = set()
    for _, i, j in sorted(pairs):
        if i in successor or j in has_predecessor or _chain_root(successor, j) == _chain_root(successor, i):
            continue
        successor[i] = j
        has_predecessor.add(j)
    out = []
    for i, track in enumerate(tracks):
        if i in has_predecessor:
            continue
        joined = Track(track.id, list(track.frames), list(track.detections))
        k = i
        while k in successor:
            k = successor[k]
            joined.frames.extend(tracks[k].frames)
            joined.detections.extend(tracks[k].detections)
        out.append(joined)
    return out


def _chain_root(successor: dict[int, int], k: int) -> int:
    """The last track of the chain that starts at k (guards against cycles)."""
    seen = set()
    while k in successor and k not in seen:
        seen.add(k)
        k = successor[k]
    return k


def _all_have_ids(frames: list[list[Detection]]) -> bool:
    detections = [d for frame in frames for d in frame]
    return bool(detections) and all(d.track_id is not None for d in detections)


def main_track(tracks: list[Track]) -> Track:
    """The main person: the track with the largest size x duration (see Track.importance)."""
    if not tracks:
        raise ValueError("no tracks")
    return max(tracks, key=lambda tr: tr.importance)
