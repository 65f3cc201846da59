"""Video decoding: frames, timestamps (variable rate), rotation metadata, errors."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import numpy as np
import pytest

from poselift.errors import InputError
from poselift.video.decode import estimate_fps, iter_frames, probe_video, read_timestamps


def _write_video(path, times, size=(64, 48), rotation=None, codec="libx264"):
    """Tiny test video: frame i is grey level 20 * i with a white 8x8 marker in the top-left corner."""
    import av

    width, height = size
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=30)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.time_base = Fraction(1, 1000)
    stream.codec_context.time_base = Fraction(1, 1000)
    if rotation is not None:
        stream.set_display_rotation(rotation)
    for i, t in enumerate(times):
        image = np.full((height, width, 3), min(255, 20 * i), np.uint8)
        image[:8, :8] = 255
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = int(round(t * 1000)), Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def test_decodes_rgb_frames_with_timestamps(tmp_path):
    path = tmp_path / "clip.mp4"
    times = np.arange(8) / 30
    _write_video(path, times)
    frames = list(iter_frames(path))
    assert len(frames) == 8
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    assert [f.index for f in frames] == list(range(8))
    np.testing.assert_allclose([f.time for f in frames], times, atol=1e-3)
    assert frames[3].image[30, 40].mean() == pytest.approx(60, abs=6)  # grey level of frame 3
    info = probe_video(path)
    assert (info.width, info.height, info.rotation) == (64, 48, 0)
    assert info.fps == pytest.approx(30, rel=0.01)


def test_variable_frame_rate_keeps_real_times(tmp_path):
    path = tmp_path / "vfr.mp4"
    times = np.array([0.0, 0.033, 0.1, 0.2, 0.25, 0.5])
    _write_video(path, times)
    decoded = np.array([f.time for f in iter_frames(path)])
    np.testing.assert_allclose(decoded, times, atol=1e-3)
    np.testing.assert_allclose(read_timestamps(path), times, atol=1e-3)
    assert estimate_fps(decoded) == pytest.approx(5 / 0.5)


def test_rotation_metadata_is_applied(tmp_path):
    path = tmp_path / "rotated.mp4"
    _write_video(path, np.arange(3) / 30, size=(64, 32), rotation=90)
    info = probe_video(path)
    assert (info.width, info.height, info.rotation) == (32, 64, 90)
    image = next(iter_frames(path)).image
    assert image.shape == (64, 32, 3)
    # Rotating 90° counter-clockwise moves the top-left marker to the bottom-left corner.
    assert image[60, 3].mean() > 200 and image[3, 3].mean() < 100


def test_scaled_decoding_and_gif(tmp_path):
    from PIL import Image

    path = tmp_path / "anim.gif"
    images = [Image.new("RGB", (40, 30), (40 * i, 0, 0)) for i in range(5)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    frames = list(iter_frames(path))
    assert len(frames) == 5
    np.testing.assert_allclose([f.time for f in frames], np.arange(5) * 0.1, atol=1e-6)
    assert frames[2].image[10, 10, 0] == pytest.approx(80, abs=8)
    small = next(iter_frames(path, size=(20, 16))).image
    assert small.shape == (16, 20, 3)


def test_streams_without_decoding_everything(tmp_path):
    path = tmp_path / "clip.mp4"
    _write_video(path, np.arange(30) / 30)
    stream = iter_frames(path)
    assert isinstance(stream, Iterator)
    first = next(stream)
    stream.close()  # stopping early releases the file
    assert first.index == 0


@pytest.mark.parametrize("content", [None, b"", b"this is not a video at all" * 10])
def test_unreadable_input_is_a_clear_input_error(tmp_path, content):
    path = tmp_path / "broken.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as error:
        list(iter_frames(path))
    assert str(path) in str(error.value)
    with pytest.raises(InputError):
        probe_video(path)


def test_a_folder_is_not_a_video(tmp_path):
    with pytest.raises(InputError, match="directory"):
        probe_video(tmp_path)
