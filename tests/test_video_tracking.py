"""Tracking people across frames: stable ids through crossings and short absences, main-person choice."""

from __future__ import annotations

import sys

import numpy as np

from poselift.video.keypoint_files import Detection
from poselift.video.tracking import _assign, main_track, remove_duplicates, track_people

# A small 17-joint figure around the origin, 100 px tall.
FIGURE = np.random.default_rng(0).uniform([-20, -50], [20, 50], (17, 2))


def _person(x: float, y: float = 200.0, scale: float = 1.0, track_id: int | None = None) -> Detection:
    return Detection(FIGURE * scale + [x, y], np.ones(17), track_id=track_id)


def test_two_people_crossing_keep_their_ids(rng):
    frames = []
    for t in range(40):
        a, b = _person(100 + 10 * t, 200 + t), _person(500 - 10 * t, 230 - t)
        frames.append([a, b] if rng.random() < 0.5 else [b, a])  # detection order means nothing
    tracks = track_people(frames)
    assert len(tracks) == 2
    for track in tracks:
        assert len(track.frames) == 40
        xs = [d.keypoints[:, 0].mean() for d in track.detections]
        steps = np.diff(xs)
        assert np.all(steps > 0) or np.all(steps < 0)  # each id keeps walking the same way


def test_a_short_absence_keeps_the_id_a_long_one_does_not():
    frames = [[_person(100 + 5 * t)] if not 10 <= t < 15 else [] for t in range(30)]
    tracks = track_people(frames, max_age=10)
    assert len(tracks) == 1 and len(tracks[0].frames) == 25
    frames = [[_person(100 + 5 * t)] if not 10 <= t < 25 else [] for t in range(30)]
    assert len(track_people(frames, max_age=10, link_seconds=0)) == 2


def test_fragments_of_one_walker_are_relinked_but_not_a_stranger():
    # Walking right at 5 px/frame, unseen for 40 frames (1.3 s at 30 fps): the motion predicts the return.
    frames = [[_person(100 + 5 * t)] if not 10 <= t < 50 else [] for t in range(70)]
    tracks = track_people(frames, max_age=10, fps=30.0)
    assert len(tracks) == 1 and len(tracks[0].frames) == 30
    # Someone appearing far from where the walker was heading, or twice the size, is someone else.
    far = [[_person(100 + 5 * t)] if t < 10 else [_person(900 + 5 * t)] if t >= 50 else [] for t in range(70)]
    assert len(track_people(far, max_age=10, fps=30.0)) == 2
    big = [[_person(100 + 5 * t)] if t < 10 else [_person(100 + 5 * t, scale=2.0)] if t >= 50 else []
           for t in range(70)]
    assert len(track_people(big, max_age=10, fps=30.0)) == 2
    late = [[_person(100 + 5 * t)] if not 10 <= t < 90 else [] for t in range(100)]  # 2.7 s > LINK_SECONDS
    assert len(track_people(late, max_age=10, fps=30.0)) == 2


def test_two_people_crossing_while_the_detector_drops_them_keep_their_ids(rng):
    frames = []
    for t in range(60):
        a, b = _person(100 + 8 * t, 200), _person(580 - 8 * t, 215)
        seen = [d for d, x in ((a, 100 + 8 * t), (b, 580 - 8 * t)) if not (26 <= t < 34) and rng.random() > 0.1]
        frames.append(seen)
    tracks = track_people(frames, max_age=5, fps=30.0)
    assert len(tracks) == 2
    for track in tracks:
        xs = [d.keypoints[:, 0].mean() for d in track.detections]
        assert np.all(np.diff(xs) > 0) or np.all(np.diff(xs) < 0)


def test_a_duplicate_detection_of_one_person_is_dropped():
    one = _person(200)
    twin = Detection(one.keypoints + 1.0, np.full(17, 0.5))
    other = _person(260)
    assert len(remove_duplicates([twin, one, other])) == 2 and remove_duplicates([twin, one])[0] is one


def test_given_track_ids_are_kept():
    frames = [[_person(100, track_id=7), _person(300, track_id=3)] for _ in range(5)]
    tracks = track_people(frames)
    assert [t.id for t in tracks] == [3, 7]
    assert tracks[0].detections[0].keypoints[:, 0].mean() > 250


def test_main_person_is_the_largest_times_longest():
    small_long = [[_person(100, scale=0.5)] for _ in range(30)]
    big = [frame + ([_person(400, scale=2.0)] if t < 20 else []) for t, frame in enumerate(small_long)]
    tracks = track_people(big)
    main = main_track(tracks)
    assert main.detections[0].keypoints[:, 0].mean() > 300
    keypoints, scores, present = main.dense(30)
    assert keypoints.shape == (30, 17, 2) and present.sum() == 20 and scores[25].sum() == 0


def test_greedy_assignment_without_scipy(monkeypatch):
    cost = np.array([[0.1, 0.9, 0.5], [0.8, 0.2, np.inf], [np.inf, np.inf, np.inf]])
    with_scipy = sorted(_assign(cost))
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)  # import fails: greedy fallback
    assert sorted(_assign(cost)) == with_scipy == [(0, 0), (1, 1)]  # forbidden pairs never matched
