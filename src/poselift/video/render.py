"""`render.mp4`: the input frame with every person's 2D skeleton beside a 3D view that follows them.

Everything is drawn with Pillow's ImageDraw on numpy frames (no plotting library): the 3D view is a
perspective camera orbiting the people's mean world position at a fixed angle from the real camera's side,
over a floor grid with the paths walked so far. Each person has their own colours (left / right / centre
shades) and an id label; a person is drawn only in the frames where they are valid. Encoding is H.264
(libx264) through PyAV, or MPEG-4 Part 2 with a warning when PyAV's FFmpeg lacks libx264.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from poselift.skeleton import H36M17

LEFT_COLOUR = (40, 120, 255)
RIGHT_COLOUR = (255, 70, 40)
CENTRE_COLOUR = (250, 200, 0)
FLAGGED_COLOUR = (150, 150, 150)
BACKGROUND_3D = (24, 26, 32)
GRID_COLOUR = (70, 74, 86)
TRAIL_COLOUR = (90, 200, 120)


PALETTES = (
    (LEFT_COLOUR, RIGHT_COLOUR, CENTRE_COLOUR),
    ((40, 200, 90), (170, 240, 60), (230, 255, 200)),
    ((200, 70, 255), (255, 110, 200), (250, 210, 255)),
    ((0, 210, 220), (120, 255, 240), (200, 255, 255)),
    ((255, 150, 0), (255, 210, 90), (255, 240, 200)),
    ((150, 110, 60), (220, 170, 110), (240, 220, 190)),
)
"""(left, right, centre) bone colours of the 1st, 2nd, ... person drawn (cycled)."""


def bone_colour(child: int, palette: tuple = PALETTES[0]) -> tuple[int, int, int]:
    """Colour of the bone ending at joint `child`: for the first person blue on the left, red on the right."""
    if child in H36M17.left:
        return palette[0]
    if child in H36M17.right:
        return palette[1]
    return palette[2]


def choose_codec() -> str:
    """'libx264' when PyAV's FFmpeg has it, else 'mpeg4' (with a warning)."""
    import av

    if "libx264" in av.codecs_available:
        return "libx264"
    warnings.warn("PyAV's FFmpeg has no libx264: writing MPEG-4 Part 2 video instead of H.264", stacklevel=2)
    return "mpeg4"


class VideoWriter:
    """Write RGB frames (H, W, 3) uint8 to a video file, with each frame's timestamp (variable rate kept).

    preset: libx264's speed/size trade-off ("veryfast"; the render uses "ultrafast", about 2x faster to
    encode for a somewhat larger file). background: encode on a second thread (FFmpeg releases the GIL),
    so drawing the next frame overlaps encoding this one; frames passed to `write` must not change after.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float, codec: str | None = None,
                 preset: str = "veryfast", background: bool = False):
        import av

        self.width, self.height = int(width) // 2 * 2, int(height) // 2 * 2  # yuv420p needs even sizes
        self.container = av.open(str(path), "w", format="mp4")
        self.codec = codec or choose_codec()
        rate = Fraction(fps).limit_denominator(1001)
        self.stream = self.container.add_stream(self.codec, rate=rate)
        self.stream.width, self.stream.height, self.stream.pix_fmt = self.width, self.height, "yuv420p"
        self.time_base = Fraction(1, 1000)
        self.stream.time_base = self.time_base
        self.stream.codec_context.time_base = self.time_base
        if self.codec == "libx264":
            self.stream.options = {"preset": preset, "crf": "23"}
        else:
            self.stream.bit_rate = 4_000_000
        self.fps = float(fps)
        self.count = 0
        self.last_pts = -1
        self._worker = None
        if background:
            from poselift.background import BackgroundWorker

            self._worker = BackgroundWorker(self._encode)

    def write(self, image, time: float | None = None) -> None:
        """Append one frame (an RGB array (H, W, 3) uint8 or a Pillow RGB image); `time` in seconds (default:
        count / fps)."""
        seconds = self.count / self.fps if time is None else time
        pts = max(int(round(seconds * 1000)), self.last_pts + 1)
        self.last_pts = pts
        self.count += 1
        if self._worker is not None:
            self._worker.submit((image, pts))
        else:
            self._encode((image, pts))

    def _encode(self, item: tuple) -> None:
        import av

        image, pts = item
        image = np.ascontiguousarray(np.asarray(image)[: self.height, : self.width])
        if image.shape[:2] != (self.height, self.width):
            padded = np.zeros((self.height, self.width, 3), dtype=np.uint8)
            padded[: image.shape[0], : image.shape[1]] = image
            image = padded
        # Copy into the frame's own buffer with numpy: PyAV's from_ndarray takes ~2 ms a frame here.
        frame = av.VideoFrame(self.width, self.height, "rgb24")
        plane = frame.planes[0]
        rows = np.frombuffer(plane, np.uint8).reshape(self.height, plane.line_size)
        rows[:, : self.width * 3] = image.reshape(self.height, -1)
        frame.pts, frame.time_base = pts, self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and close the file."""
        try:
            if self._worker is not None:
                self._worker.close()
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            if self._worker is not None:
                try:
                    self._worker.close()
                except Exception:  # noqa: BLE001 - the original error is the one to report
                    pass
            self.container.close()


def draw_skeleton_2d(draw, keypoints: np.ndarray, confidence: np.ndarray, flagged: np.ndarray | None = None,
                     width: int = 3, scale: float = 1.0, palette: tuple = PALETTES[0]) -> None:
    """Draw H36M keypoints (17, 2) pixels on a Pillow ImageDraw; flagged (unseen) joints in grey."""
    pts = np.asarray(keypoints, dtype=np.float64) * scale
    flagged = np.zeros(17, dtype=bool) if flagged is None else np.asarray(flagged, dtype=bool)
    for parent, child in H36M17.bones():
        unseen = flagged[parent] or flagged[child] or confidence[child] <= 0 or confidence[parent] <= 0
        colour = FLAGGED_COLOUR if unseen else bone_colour(child, palette)
        draw.line([tuple(pts[parent]), tuple(pts[child])], fill=colour, width=max(1, width - (2 if unseen else 0)))
    radius = max(2, width)
    for j, (x, y) in enumerate(pts):
        colour = FLAGGED_COLOUR if flagged[j] or confidence[j] <= 0 else (255, 255, 255)
        draw.ellipse([x - radius / 2, y - radius / 2, x + radius / 2, y + radius / 2], fill=colour)


class OrbitView:
    """A perspective camera for the 3D panel, looking at a target from a fixed azimuth and elevation."""

    def __init__(self, size: int, azimuth: float, elevation: float = 0.35, distance: float = 4.5,
                 fov_deg: float = 50.0):
        self.size = size
        self.azimuth, self.elevation, self.distance = azimuth, elevation, distance
        self.focal = size / 2 / math.tan(math.radians(fov_deg) / 2)
        self.rotation = np.eye(3)
        self.position = np.zeros(3)

    def look_at(self, target: np.ndarray) -> None:
        """Point the camera at `target` (3,) world metres (Y up)."""
        offset = np.array([
            math.cos(self.elevation) * math.sin(self.azimuth), math.sin(self.elevation),
            math.cos(self.elevation) * math.cos(self.azimuth),
        ])
        self.position = target + self.distance * offset
        forward = -offset
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        self.rotation = np.stack([right, down, forward])

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (..., 3) -> panel pixels (..., 2) and depth (...,) metres (<= 0: behind)."""
        cam = (np.asarray(points, dtype=np.float64) - self.position) @ self.rotation.T
        depth = cam[..., 2]
        xy = cam[..., :2] / np.maximum(depth, 1e-3)[..., None] * self.focal + self.size / 2
        return xy, depth


def draw_floor(draw, view: OrbitView, centre: np.ndarray, grid_step: float = 0.5, grid_extent: float = 4.0,
               offset: tuple[float, float] = (0.0, 0.0)) -> None:
    """Draw a floor grid (Y = 0) around `centre` (3,) world metres; `offset` shifts the panel on the image."""
    cx, cz = np.round(np.asarray(centre)[[0, 2]] / grid_step) * grid_step
    steps = np.arange(-grid_extent, grid_extent + 1e-9, grid_step)
    gx, gz = np.meshgrid(cx + steps, cz + steps, indexing="ij")
    xy, depth = view.project(np.stack([gx, np.zeros_like(gx), gz], axis=-1))  # one call for the whole grid
    xy = xy + offset
    for lines, depths in ((xy, depth), (xy.transpose(1, 0, 2), depth.T)):  # lines along z, then along x
        for points, front in zip(lines, depths > 0.2, strict=True):
            _polyline(draw, points, front, GRID_COLOUR, 1)


def draw_person_3d(draw, view: OrbitView, pose: np.ndarray, confidence: np.ndarray, trail: np.ndarray | None = None,
                   palette: tuple = PALETTES[0], offset: tuple[float, float] = (0.0, 0.0)) -> tuple:
    """Draw one skeleton (17, 3) world metres with its shadow and its path on the floor; returns where its
    head was drawn (x, y), or (None, None) when it is behind the view."""
    if trail is not None and len(trail) > 1:
        ground = np.array(trail, dtype=np.float64)
        ground[:, 1] = 0.0
        xy, depth = view.project(ground)
        _polyline(draw, xy + offset, depth > 0.2, TRAIL_COLOUR, 2)
    shadow = np.array(pose, dtype=np.float64)
    shadow[:, 1] = 0.0
    both, depth = view.project(np.concatenate([pose, shadow]))
    if (depth <= 0.2).any():
        return None, None
    both = both + offset
    xy, sxy = both[:17].tolist(), both[17:].tolist()
    for parent, child in H36M17.bones():
        draw.line([tuple(sxy[parent]), tuple(sxy[child])], fill=(45, 48, 56), width=3)
    for parent, child in H36M17.bones():
        unseen = confidence[child] <= 0 or confidence[parent] <= 0
        colour = FLAGGED_COLOUR if unseen else bone_colour(child, palette)
        draw.line([tuple(xy[parent]), tuple(xy[child])], fill=colour, width=4)
    return tuple(xy[10])


def _label_mask(text: str):
    """A small mask (mode L) with `text` drawn in Pillow's default font, pasted in a colour at each use."""
    from PIL import Image, ImageDraw

    mask = Image.new("L", (8 * len(text) + 4, 14), 0)
    ImageDraw.Draw(mask).text((1, 1), text, fill=255)
    return mask


def draw_3d_panel(image, view: OrbitView, pose: np.ndarray, confidence: np.ndarray, valid: bool,
                  centre: np.ndarray, trail: np.ndarray | None = None, grid_step: float = 0.5,
                  grid_extent: float = 4.0) -> None:
    """Draw a floor grid around `centre` (3,), the walked path and the skeleton (17, 3) world metres."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    draw_floor(draw, view, centre, grid_step, grid_extent)
    conf = confidence if valid else np.zeros(17)
    draw_person_3d(draw, view, pose, conf, trail)


def _polyline(draw, points: np.ndarray, front: np.ndarray, fill: tuple[int, int, int], width: int) -> None:
    """Draw the segments between consecutive points (N, 2) whose both ends are in front, a run per call."""
    keep = front[:-1] & front[1:]
    start = None
    for k in range(len(keep) + 1):
        if k < len(keep) and keep[k]:
            start = k if start is None else start
        elif start is not None:
            draw.line(points[start : k + 1].ravel().tolist(), fill=fill, width=width)
            start = None


def panel_size(image_size: tuple[int, int], panel_height: int = 480) -> tuple[int, int]:
    """(width, height) of the left panel: the input scaled to at most `panel_height`, even sizes."""
    src_w, src_h = image_size
    height = max(2, min(panel_height, src_h) // 2 * 2)
    width = max(2, int(round(src_w * height / src_h)) // 2 * 2)
    return width, height


@dataclass
class RenderPerson:
    """One person to draw: arrays over all T frames (NaN where not valid)."""

    id: int
    keypoints_2d: np.ndarray
    """(T, 17, 2) pixels of the source image."""
    confidence: np.ndarray
    """(T, 17); 0 = not seen (grey)."""
    flagged: np.ndarray
    """(T, 17) bool."""
    valid: np.ndarray
    """(T,) bool: drawn only where True."""
    poses_world: np.ndarray
    """(T, 17, 3) metres, Y up."""


def render_video(
    path: str | Path,
    frames: Iterable[np.ndarray] | None,
    times: np.ndarray,
    keypoints_2d: np.ndarray,
    confidence: np.ndarray,
    flagged: np.ndarray,
    valid: np.ndarray,
    poses_world: np.ndarray,
    image_size: tuple[int, int],
    camera_world: np.ndarray,
    panel_height: int = 480,
    progress=None,
) -> dict:
    """One person's side-by-side video (see render_people)."""
    person = RenderPerson(0, keypoints_2d, confidence, flagged, valid, poses_world)
    return render_people(path, frames, times, [person], image_size, camera_world, panel_height, progress,
                         labels=False)


def render_people(
    path: str | Path,
    frames: Iterable[np.ndarray] | None,
    times: np.ndarray,
    people: list[RenderPerson],
    image_size: tuple[int, int],
    camera_world: np.ndarray,
    panel_height: int = 480,
    progress=None,
    labels: bool = True,
) -> dict:
    """Write the side-by-side video; frames (at `panel_size(image_size)`) or None for a black background.

    Each person's keypoints (T, 17, 2) are pixels of the source image of `image_size` (w, h), poses_world
    (T, 17, 3) metres Y up; camera_world (3,) the real camera's position (sets the 3D view's side). Returns
    {"frames": n, "seconds": s, "fps": n / s, "codec": name}.
    """
    import time

    from PIL import Image, ImageDraw

    width, height = panel_size(image_size, panel_height)
    scale = height / image_size[1]
    count = len(times)
    fps = (count - 1) / (times[-1] - times[0]) if count > 1 and times[-1] > times[0] else 30.0
    valid = np.stack([np.asarray(q.valid, dtype=bool) for q in people]) if people else np.zeros((1, count), bool)
    roots = np.stack([q.poses_world[:, 0] for q in people]) if people else np.zeros((1, count, 3))
    seen = valid.sum(axis=0)
    mean_root = np.where(valid[..., None], np.nan_to_num(roots), 0.0).sum(axis=0) / np.maximum(seen, 1)[:, None]
    target = _smooth_target(mean_root, seen > 0, fps)
    any_valid = np.nonzero(seen > 0)[0]
    first_root = mean_root[any_valid[0]] if len(any_valid) else np.zeros(3)
    towards_camera = camera_world - first_root
    azimuth = math.atan2(towards_camera[0], towards_camera[2]) + math.radians(35)
    view = OrbitView(height, azimuth)
    frame_iter = iter(frames) if frames is not None else None
    line_width = max(3, height // 120)
    history = int(3 * fps)
    offset = (float(width), 0.0)
    start = time.perf_counter()
    # One canvas for the whole video: pasting the source and the panel's background costs ~0.1 ms a frame,
    # where filling a numpy frame with a colour cost 1.7 ms; labels are drawn once and pasted as masks.
    canvas = Image.new("RGB", (width + height, height), BACKGROUND_3D)
    draw = ImageDraw.Draw(canvas)
    masks: dict[str, Image.Image] = {}
    # Encoding runs on a second thread (and the caller may decode `frames` on a third) while this one draws.
    with VideoWriter(path, width + height, height, fps, preset="ultrafast", background=True) as writer:
        for t in range(count):
            source = next(frame_iter, None) if frame_iter is not None else None
            if source is not None:
                canvas.paste(Image.fromarray(np.ascontiguousarray(source[:height, :width])), (0, 0))
            else:
                draw.rectangle((0, 0, width - 1, height - 1), fill=(0, 0, 0))
            draw.rectangle((width, 0, width + height - 1, height - 1), fill=BACKGROUND_3D)
            spread = float(np.ptp(roots[valid[:, t], t][:, [0, 2]], axis=0).max()) if seen[t] > 1 else 0.0
            view.distance = 4.5 + 0.8 * spread
            view.look_at(target[t] + np.array([0.0, 0.9, 0.0]))
            draw_floor(draw, view, target[t], offset=offset)
            for k, person in enumerate(people):
                if not valid[k, t]:
                    continue
                palette = PALETTES[k % len(PALETTES)]
                draw_skeleton_2d(draw, person.keypoints_2d[t], person.confidence[t], person.flagged[t],
                                 width=line_width, scale=scale, palette=palette)
                lo = max(0, t - history)
                trail = roots[k, lo : t + 1][valid[k, lo : t + 1]]
                head = draw_person_3d(draw, view, person.poses_world[t], person.confidence[t], trail, palette,
                                      offset=offset)
                if labels:
                    mask = masks.get(str(person.id)) or masks.setdefault(str(person.id), _label_mask(str(person.id)))
                    for x, y in (person.keypoints_2d[t, 10] * scale, head):
                        if x is not None and np.isfinite(x) and np.isfinite(y):
                            canvas.paste(palette[2], (int(x) - 4, int(y) - 20), mask)
            # A copy (0.1 ms) goes to the encoder thread, which turns it into an array there.
            writer.write(canvas.copy(), float(times[t] - times[0]))
            if progress is not None:
                progress.update(1)
        codec = writer.codec
    seconds = time.perf_counter() - start
    return {"frames": count, "seconds": seconds, "fps": count / max(seconds, 1e-9), "codec": codec}


def _smooth_target(root: np.ndarray, valid: np.ndarray, fps: float, seconds: float = 0.7) -> np.ndarray:
    """The 3D view's look-at point: the root on the floor, smoothed over time so the view glides."""
    from poselift.video.trajectory import smooth_signal

    ground = root.copy()
    ground[:, 1] = 0.0
    known = valid if valid.any() else np.ones(len(root), dtype=bool)
    frames = np.arange(len(root))
    filled = np.column_stack([np.interp(frames, frames[known], ground[known, c]) for c in range(3)])
    return smooth_signal(filled, seconds * fps)
