"""Evaluation sets from motion capture: held-out clips through the training-pair synthesis, seeded.

The same function feeds `poselift evaluate --bvh` and `benchmarks/accuracy.py`, so their figures agree.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from poselift.data.mocap import clip_content, load_mocap
from poselift.data.sequences import PoseSequence
from poselift.data.synthesis import NO_AUGMENTATION, synthesize

DEFAULT_EVAL_SEED = 1234
"""Evaluation cameras and noise are drawn from this seed unless told otherwise (training uses others)."""


def mocap_evaluation_sequences(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    cameras: str = "random",
    views_per_clip: int = 4,
    noise: str = "none",
    fps: float = 30.0,
    seed: int = DEFAULT_EVAL_SEED,
    max_seconds: float | None = 4.0,
    styles: Sequence[str] | None = None,
    source: str = "auto",
    mapping: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> list[PoseSequence]:
    """2D/3D evaluation pairs from BVH files or folders, without body-proportion augmentation.

    `styles` keeps only clips of those styles (e.g. the held-out ones). Each sequence's `action` is the
    clip's content (walk, bow, ...) for per-action tables, `subject` its dataset or performer, and
    `camera` names the view and the piece, so every (subject, action, camera) key is unique.
    """
    clips = load_mocap(paths, source=source, mapping=mapping, cache_dir=cache_dir)
    if styles:
        wanted = {s.lower() for s in styles}
        clips = [c for c in clips if (c.style or "").lower() in wanted]
    sequences = synthesize(
        clips, cameras=cameras, views_per_clip=views_per_clip, fps=fps, noise=noise,
        augmentation=NO_AUGMENTATION, seed=seed, max_seconds=max_seconds,
    )
    counts: Counter = Counter()
    unique = []
    for seq in sequences:
        clip_name = seq.action
        content = clip_content(clip_name)
        counts[(clip_name, seq.camera)] += 1
        camera = f"{clip_name}/{seq.camera}/{counts[(clip_name, seq.camera)]}"
        unique.append(replace(seq, action=content, camera=camera))
    return unique
