"""Video decoding with PyAV: RGB frames streamed one at a time, real timestamps, rotation applied.

Any container/codec PyAV's bundled FFmpeg reads works (mp4, mkv, mov, webm, gif, ...). Frames are never
held all at once, so an hour-long video costs one frame of memory. Timestamps come from each frame's pts,
so variable-frame-rate video (phones, screen recordings) keeps its real timing.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from poselift.errors import InputError


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video. Sizes are as displayed (after rotation)."""

    path: Path
    width: int
    height: int
    fps: float
    """Frame rate estimate (frames/s): the stream's average rate, else guessed from the first frames."""
    num_frames: int | None
    """Frame count declared by the container; None when it does not say (then count by decoding)."""
    duration: float | None
    """Seconds, when the container says."""
    rotation: int
    """Counter-clockwise degrees (0, 90, 180, 270) applied to every decoded frame for display."""
    codec: str


@dataclass(frozen=True)
class Frame:
    """One decoded frame: `image` (H, W, 3) uint8 RGB as displayed, `time` seconds since the first frame."""

    index: int
    time: float
    image: np.ndarray


def _open(path: str | Path):
    import av

    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a directory, expected a video file")
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise InputError(path, f"cannot open as video ({error.strerror or error})") from None
    if not container.streams.video:
        container.close()
        raise InputError(path, "contains no video stream")
    return container


def _tag_rotation(stream) -> int:
    """Counter-clockwise rotation from the legacy `rotate` metadata tag (which is clockwise), or 0."""
    tag = stream.metadata.get("rotate")
    try:
        return -int(float(tag)) if tag is not None else 0
    except ValueError:
        return 0


def _quarter_turns(rotation: float) -> int:
    """Counter-clockwise degrees -> number of 90° turns in 0..3 (odd angles round to the nearest quarter)."""
    return int(round(rotation / 90.0)) % 4


def _stream_fps(stream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and float(rate) > 0 and float(rate) < 1000:
            return float(rate)
    return None


def open_video(source: str) -> tuple[Any, bool]:
    """Open a webcam index ("0" -> /dev/video0), a video file or a network stream URL with PyAV.
    Returns (container, realtime): realtime is False for files (opened as `iter_frames` opens them), which a
    live reader then paces to their timestamps."""
    import av

    try:
        if source.isdigit():
            if sys.platform.startswith("linux"):
                device, fmt = f"/dev/video{source}", "v4l2"
            elif sys.platform == "darwin":
                device, fmt = source, "avfoundation"
            else:
                device, fmt = f"video={source}", "dshow"
            return av.open(device, format=fmt), True
        if "://" in source:
            return av.open(source, timeout=10.0), True
    except av.FFmpegError as error:
        raise InputError(source, f"cannot open video source ({error.strerror or error})") from None
    if not Path(source).exists():
        raise InputError(source, "no such file (and not a camera index or URL)")
    return _open(source), False


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's size, frame rate, rotation and length without decoding it all (decodes one frame).

    Raises InputError when the file is missing or is not a readable video.
    """
    import av

    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        first = None
        try:
            for frame in container.decode(stream):
                first = frame
                break
        except (av.FFmpegError, ValueError, OSError) as error:
            raise InputError(path, f"cannot decode video ({error})") from None
        if first is None:
            raise InputError(path, "video stream has no decodable frame")
        rotation = _rotation_of(first, stream)
        width, height = first.width, first.height
        if _quarter_turns(rotation) % 2:
            width, height = height, width
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        fps = _stream_fps(stream) or 30.0
        return VideoInfo(
            path=path, width=width, height=height, fps=fps,
            num_frames=int(stream.frames) if stream.frames else None, duration=duration,
            rotation=_quarter_turns(rotation) * 90, codec=stream.codec_context.name,
        )
    finally:
        container.close()


def _rotation_of(frame, stream) -> float:
    rotation = 0.0
    try:
        rotation = float(frame.rotation or 0)
    except (AttributeError, ValueError):
        rotation = 0.0
    return rotation if rotation else float(_tag_rotation(stream))


def iter_frames(path: str | Path, size: tuple[int, int] | None = None) -> Iterator[Frame]:
    """Decode a video frame by frame: yields Frame(index, time seconds, image (H, W, 3) uint8 RGB).

    `size` (width, height), when given, scales each displayed frame to that size (FFmpeg's swscale).
    Rotation metadata is applied. A decoding error after some frames ends the stream with a warning
    (a truncated file still gives its frames); an error before the first frame raises InputError.
    """
    import av

    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = _stream_fps(stream) or 30.0
        first_time: float | None = None
        last_time = -np.inf
        index = 0
        decoded = container.decode(stream)
        while True:
            try:
                frame = next(decoded)
            except StopIteration:
                break
            except (av.FFmpegError, ValueError, OSError) as error:
                if index == 0:
                    raise InputError(path, f"cannot decode video ({error})") from None
                warnings.warn(f"{path}: decoding stopped after {index} frames: {error}", stacklevel=2)
                break
            turns = _quarter_turns(_rotation_of(frame, stream))
            time = _frame_time(frame, index, fps)
            if first_time is None:
                first_time = time
            time -= first_time
            if time <= last_time:  # missing or repeated pts: keep time strictly increasing
                time = last_time + 1.0 / fps
            last_time = time
            yield Frame(index=index, time=time, image=_to_rgb(frame, turns, size))
            index += 1
        if index == 0:
            raise InputError(path, "video stream has no decodable frame")
    finally:
        container.close()


def _frame_time(frame, index: int, fps: float) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * Fraction(frame.time_base))
    return index / fps


def _to_rgb(frame, turns: int, size: tuple[int, int] | None) -> np.ndarray:
    if size is None:
        image = frame.to_ndarray(format="rgb24")
    else:
        width, height = size if turns % 2 == 0 else (size[1], size[0])
        image = frame.to_ndarray(format="rgb24", width=int(width), height=int(height))
    if turns:
        image = np.ascontiguousarray(np.rot90(image, k=turns))
    return image


def estimate_fps(times: np.ndarray, default: float = 30.0) -> float:
    """Mean frame rate (frames/s) from frame timestamps (T,) seconds: (T - 1) / duration."""
    times = np.asarray(times, dtype=np.float64)
    if times.size < 2 or times[-1] <= times[0]:
        return default
    return float((times.size - 1) / (times[-1] - times[0]))


def read_timestamps(path: str | Path) -> np.ndarray:
    """Frame timestamps (T,) seconds from the first frame, by reading packets only (no decoding).

    Falls back to decoding when the container gives no packet timestamps.
    """
    import av

    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stamps = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is None:
                    stamps = None
                    break
                stamps.append(packet.pts)
        except (av.FFmpegError, ValueError, OSError) as error:
            raise InputError(path, f"cannot read video packets ({error})") from None
        time_base = Fraction(stream.time_base) if stream.time_base is not None else None
    finally:
        container.close()
    if stamps and time_base is not None:
        times = np.sort(np.array(stamps, dtype=np.float64)) * float(time_base)
        return times - times[0]
    return np.array([frame.time for frame in iter_frames(path)])
