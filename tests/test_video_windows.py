"""The multi-person detector's search windows and the merging of what each window found (no MediaPipe needed)."""

from __future__ import annotations

import numpy as np

from poselift.video.keypoint_files import Detection
from poselift.video.multi_detector import inside_window, merge_people, search_windows


def _person(x: float, y: float = 100.0, height: float = 150.0, score: float = 0.9) -> Detection:
    """33 landmarks spread over a body `height` pixels tall centred on (x, y)."""
    rng = np.random.default_rng(int(x))
    xy = np.column_stack([x + rng.uniform(-0.15, 0.15, 33) * height, y + np.linspace(-0.5, 0.5, 33) * height])
    return Detection(xy, np.full(33, score), score=score)


def test_a_landscape_frame_is_covered_by_square_windows_and_a_portrait_one_is_not():
    assert search_windows(640, 360) == [(0, 0, 360, 360), (280, 0, 640, 360)]
    wide = search_windows(1280, 480)
    assert len(wide) == 3 and wide[0][0] == 0 and wide[-1][2] == 1280
    assert all(x1 - x0 == 480 and y1 - y0 == 480 for x0, y0, x1, y1 in wide)
    assert search_windows(360, 640) == [] and search_windows(480, 400) == []


def test_landmarks_past_an_inner_window_edge_are_not_seen_but_past_the_frame_border_are():
    box, size = (280, 0, 640, 360), (640, 360)
    xy = np.array([[270.0, 100.0], [300.0, 100.0], [650.0, 100.0], [500.0, -10.0], [500.0, 370.0]])
    assert inside_window(xy, box, size).tolist() == [False, True, True, True, True]
    assert inside_window(xy, (0, 0, 640, 360), size).all()


def test_one_person_found_in_several_windows_is_kept_once_with_the_best_view():
    whole = [_person(300.0, score=0.6)]
    window = [_person(300.0, score=0.9), _person(500.0)]
    cut = Detection(whole[0].keypoints + 2.0, np.where(np.arange(33) < 16, 0.9, 0.0), score=0.45,
                    bbox=np.array([0.0, 0.0, 360.0, 360.0]))
    merged = merge_people([whole, window, [cut]])
    assert len(merged) == 2
    assert merged[0] is window[0] and merged[0].bbox is None
    assert np.allclose(sorted(float(np.median(d.keypoints[:, 0])) for d in merged), [300, 500], atol=10)


def test_two_people_overlapping_in_the_picture_stay_two():
    front, behind = _person(300.0), _person(340.0, y=90.0, height=120.0)
    assert len(merge_people([[front, behind]])) == 2
    assert len(merge_people([[_person(x) for x in (100, 200, 300, 400, 500)]], max_people=4)) == 4
