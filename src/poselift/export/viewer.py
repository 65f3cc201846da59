"""`viewer.html`: one self-contained page (no network) that plays the 3D poses with orbit, zoom and scrub.

The page template (viewer.html beside this module) reads its data from an embedded JSON block and
exposes `window.poselift` = {frames, currentFrame, play(), pause(), seek(i), pushFrame(pose), clear(),
live}, so tests can drive it and a live source can append frames at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from poselift.atomic import write_text_atomic
from poselift.skeleton import H36M17

PLACEHOLDER = "/*POSELIFT_DATA*/null"


@dataclass
class ViewerPerson:
    """One person for the viewer: joints (T, 17, 3) world metres (Y up), valid (T,), confidence (T, 17)."""

    id: int
    joints: np.ndarray
    valid: np.ndarray
    confidence: np.ndarray | None = None


def template() -> str:
    """The viewer page template's text."""
    return resources.files("poselift.export").joinpath("viewer.html").read_text(encoding="utf-8")


def _rounded(array: np.ndarray, decimals: int) -> list:
    return np.round(np.asarray(array, dtype=np.float64), decimals).tolist()


def _person_payload(p: ViewerPerson) -> dict:
    """A person's frames from their first to last valid one (`start` = the first's index); frames inside
    that span where they are not valid hold null."""
    valid = np.asarray(p.valid, dtype=bool)
    frames = np.nonzero(valid)[0]
    first, last = (int(frames[0]), int(frames[-1])) if len(frames) else (0, -1)
    span = slice(first, last + 1)
    joints = [_rounded(j, 3) if v else None for j, v in zip(p.joints[span], valid[span], strict=True)]
    confidence = None
    if p.confidence is not None:
        confidence = [_rounded(c, 2) if v else None for c, v in zip(p.confidence[span], valid[span], strict=True)]
    return {"id": int(p.id), "start": first, "joints": joints, "valid": valid[span].astype(int).tolist(),
            "confidence": confidence}


def build_html(people: list[ViewerPerson], fps: float, times: np.ndarray | None = None,
               camera: np.ndarray | None = None, meta: dict | None = None) -> str:
    """The complete viewer page with the poses embedded (millimetre precision). `meta` is shown to anyone who
    opens the page: give file names, not local paths."""
    payload = {
        "version": 1,
        "fps": float(fps),
        "units": "metres",
        "up": "y",
        "joint_names": list(H36M17.joint_names),
        "parents": list(H36M17.parents),
        "times": None if times is None else _rounded(times, 4),
        "camera": None if camera is None else _rounded(camera, 3),
        "meta": meta or {},
        "frame_count": None if times is None else len(times),
        "people": [_person_payload(p) for p in people],
    }
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    # Inside <script>, "</script" or "<!--" in a string would break the page: "<" only occurs in strings,
    # where the JSON escape \u003c means the same character.
    text = text.replace("<", "\\u003c")
    page = template()
    if PLACEHOLDER not in page:
        raise RuntimeError("viewer.html template has lost its data placeholder")
    return page.replace(PLACEHOLDER, text)


def write_viewer(path: str | Path, people: list[ViewerPerson], fps: float, times: np.ndarray | None = None,
                 camera: np.ndarray | None = None, meta: dict | None = None) -> None:
    """Write viewer.html atomically."""
    write_text_atomic(path, build_html(people, fps, times, camera, meta))
