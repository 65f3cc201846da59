"""The filming half of the synthesis in torch, batched on any device: world-to-camera, projection and 2D
detector noise for every view of an epoch at once (`render_views`).

The same model as poselift.data.synthesis (`_sequence` and `add_detector_noise`), drawn from a
torch.Generator instead of numpy's, for views whose cameras have no lens distortion (the random cameras).
Views are concatenated along time and processed together, one batch per noise level; runs (low confidence,
swaps, drops) stop at a view's end and missing joints are filled from their own view only. The drift is the
same Gaussian-spectrum noise, made by a Gaussian filter in time (std `drift_seconds * fps` frames) instead of
a circular FFT filter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from poselift.camera import Camera


@dataclass
class ViewSpec:
    """One view to film: the piece's world joints (T, 17, 3) metres, its camera, frame rate and noise level."""

    joints_world: np.ndarray
    camera: Camera
    fps: float
    level: object  # poselift.data.synthesis.NoiseLevel


@dataclass
class RenderedView:
    """A filmed view: keypoints_2d (T, 17, 2) normalised screen coordinates, poses_3d (T, 17, 3) camera-frame
    metres, confidence (T, 17); numpy float32."""

    keypoints_2d: np.ndarray
    poses_3d: np.ndarray
    confidence: np.ndarray


def bursts(shape: tuple[int, ...], rate: float, mean_length: float, time: torch.Tensor, end: torch.Tensor,
           generator: torch.Generator) -> torch.Tensor:
    """Boolean (N, ...) runs along axis 0 (about `rate` of entries True, geometric lengths of mean
    `mean_length`), each run cut at its view's end; time (N,) frame numbers, end (N,) the view's end."""
    device = time.device
    if rate <= 0:
        return torch.zeros(shape, dtype=torch.bool, device=device)
    mean_length = max(mean_length, 1.0)
    starts = torch.rand(shape, generator=generator, device=device) < min(rate / mean_length, 1.0)
    lengths = torch.empty(shape, device=device).geometric_(1.0 / mean_length, generator=generator).long()
    view = (-1,) + (1,) * (len(shape) - 1)
    ends = torch.where(starts, torch.minimum(time.view(view) + lengths, end.view(view)), 0)
    return torch.cummax(ends, dim=0).values > time.view(view)


def smooth_noise(
    shape: tuple[int, ...], frames: float, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Unit-std Gaussian noise (N, ...) low-passed along axis 0 by a Gaussian of std `frames` frames."""
    radius = max(1, int(math.ceil(4 * frames)))
    offsets = torch.arange(-radius, radius + 1, device=device, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / max(frames, 1e-6)) ** 2)
    kernel = kernel / kernel.square().sum().sqrt()
    count, rest = shape[0], int(np.prod(shape[1:]))
    white = torch.randn((rest, 1, count + 2 * radius), generator=generator, device=device, dtype=torch.float64)
    return F.conv1d(white, kernel.view(1, 1, -1))[:, 0].t().reshape(shape)


def fill_missing(values: torch.Tensor, missing: torch.Tensor, hold: torch.Tensor, start: torch.Tensor,
                 end: torch.Tensor) -> torch.Tensor:
    """Missing entries (N, J) of values (N, J, C) filled from present frames of the same view (start, end: (N,)
    its bounds): linear interpolation, or the last present value where `hold` (N,); see synthesis.fill_missing."""
    count = values.shape[0]
    time = torch.arange(count, device=values.device)[:, None].expand_as(missing)
    present = ~missing
    prev = torch.cummax(torch.where(present, time, -1), dim=0).values
    nxt = torch.cummin(torch.where(present, time, count).flip(0), dim=0).values.flip(0)
    has_prev, has_next = prev >= start[:, None], nxt < end[:, None]
    prev_values = torch.gather(values, 0, prev.clamp(0, count - 1)[..., None].expand_as(values))
    next_values = torch.gather(values, 0, nxt.clamp(0, count - 1)[..., None].expand_as(values))
    span = (nxt - prev).clamp_min(1)
    between = prev_values + (next_values - prev_values) * ((time - prev).to(values.dtype) / span)[..., None]
    one_side = torch.where(has_prev[..., None], prev_values, next_values)
    filled = torch.where((has_prev & has_next & ~hold[:, None])[..., None], between, one_side)
    return torch.where((missing & (has_prev | has_next))[..., None], filled, values)


def add_detector_noise(pixels: torch.Tensor, level, fps: float, view: torch.Tensor, start: torch.Tensor,
                       end: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Clean projected keypoints (N, 17, 2) pixels of concatenated views -> (noisy pixels, confidence (N, 17)).

    view (N,) each frame's view number, start/end (N,) its view's first and past-the-end frame."""
    from poselift.data.noise_model import _SWAP_GROUPS, _SWAP_PERMUTATIONS, JOINT_NOISE_SCALE, NOISE_LEVELS

    device, (count, joints) = pixels.device, pixels.shape[:2]
    confidence = torch.ones((count, joints), dtype=pixels.dtype, device=device)
    if level == NOISE_LEVELS["none"] or count == 0:
        return pixels, confidence
    time = torch.arange(count, device=device)

    def uniform(low: float, high: float, shape: tuple[int, ...]) -> torch.Tensor:
        return low + (high - low) * torch.rand(shape, generator=generator, device=device, dtype=pixels.dtype)

    size = (pixels.amax(1) - pixels.amin(1)).amax(-1).clamp_min(1.0)[:, None, None]
    scale = size * torch.as_tensor(JOINT_NOISE_SCALE, dtype=pixels.dtype, device=device)[None, :, None]
    low = bursts((count, joints), level.low_rate, level.low_frames, time, end, generator)
    jitter = level.jitter * torch.where(low, 3.0, 1.0)[..., None]
    noisy = pixels + torch.randn(pixels.shape, generator=generator, device=device, dtype=pixels.dtype) * jitter * scale
    if level.drift > 0:
        drift = smooth_noise(tuple(pixels.shape), level.drift_seconds * fps, generator, device)
        noisy = noisy + drift * level.drift * scale
    confidence = torch.where(low, uniform(0.1, 0.5, (count, joints)), uniform(0.75, 1.0, (count, joints)))
    if level.swap_rate > 0:
        swapping = bursts((count,), level.swap_rate, level.swap_frames, time, end, generator)
        before = torch.cat([swapping.new_zeros(1), swapping[:-1]]) & (time > start)
        starts = torch.where(swapping & ~before, time, -1)
        group_at_start = torch.randint(1, len(_SWAP_GROUPS) + 1, (count,), generator=generator, device=device)
        latest = torch.cummax(starts, dim=0).values
        group = torch.where(swapping, group_at_start[latest.clamp_min(0)], 0)
        perm = torch.as_tensor(_SWAP_PERMUTATIONS, device=device)[group]  # (N, 17)
        noisy = torch.gather(noisy, 1, perm[..., None].expand_as(noisy))
        confidence = torch.gather(confidence, 1, perm)
    if level.drop_rate > 0:
        dropped = bursts((count, joints), level.drop_rate, level.drop_frames, time, end, generator)
        hold_view = torch.rand((int(view.max()) + 1,), generator=generator, device=device) < 0.5
        noisy = fill_missing(noisy, dropped, hold_view[view], start, end)
        confidence = torch.where(dropped, 0.0, confidence)
    return noisy, confidence


def render_views(views: Sequence[ViewSpec], seed: int, device: torch.device | str) -> list[RenderedView]:
    """Film every view on `device` in one batch per noise level (float64 geometry, float32 results)."""
    device = torch.device(device)
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed) % 2**63)
    out: list[RenderedView | None] = [None] * len(views)
    groups: dict[tuple[object, float], list[int]] = {}
    for i, spec in enumerate(views):
        if spec.camera.k is not None or spec.camera.p is not None:
            raise ValueError(f"render_views: camera {spec.camera.name!r} has lens distortion")
        groups.setdefault((spec.level, float(spec.fps)), []).append(i)
    for members in groups.values():
        lengths = [len(views[i].joints_world) for i in members]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        view = torch.as_tensor(np.repeat(np.arange(len(members)), lengths), device=device)
        start = torch.as_tensor(np.repeat(bounds[:-1], lengths), device=device)
        end = torch.as_tensor(np.repeat(bounds[1:], lengths), device=device)
        cams = [views[i].camera for i in members]

        def per_view(values: list, view: torch.Tensor = view) -> torch.Tensor:
            return torch.as_tensor(np.asarray(values, dtype=np.float64), device=device)[view]

        world = torch.as_tensor(np.concatenate([views[i].joints_world for i in members]), device=device).double()
        rotation, shift = per_view([c.R for c in cams]), per_view([c.t for c in cams])
        poses = (torch.einsum("nij,nkj->nki", rotation, world) + shift[:, None]).float()
        points = poses.double()
        pixels = points[..., :2] / points[..., 2:3] * per_view([c.focal for c in cams])[:, None] \
            + per_view([c.centre for c in cams])[:, None]
        noisy, confidence = add_detector_noise(pixels, views[members[0]].level, views[members[0]].fps, view, start,
                                               end, generator)
        width = per_view([c.width for c in cams])[:, None, None]
        height = per_view([c.height for c in cams])[:, None, None]
        noisy = noisy.float()
        screen = noisy / width.float() * 2 - torch.cat([torch.ones_like(width), height / width], -1).float()
        screen, poses, confidence = screen.cpu().numpy(), poses.cpu().numpy(), confidence.float().cpu().numpy()
        for j, i in enumerate(members):
            part = slice(bounds[j], bounds[j + 1])
            out[i] = RenderedView(screen[part], poses[part], confidence[part])
    return [view for view in out if view is not None]
