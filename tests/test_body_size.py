"""Body size: the nominal stature of a skeleton, and scaling lifted poses to a person's known height."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.body_size import bone_lengths, scale_to_height, stature
from poselift.cli import main
from poselift.inference import Lifter
from poselift.video.synthetic import synthesize_walk


def _walk_poses() -> np.ndarray:
    clip = synthesize_walk(seconds=1.0, width=640, height=360)
    return clip.poses_camera - clip.poses_camera[:, :1]


def test_stature_of_a_scaled_body_scales() -> None:
    poses = _walk_poses()
    assert 1.4 < stature(poses) < 2.0
    assert stature(poses * 1.2) == pytest.approx(1.2 * stature(poses))
    assert stature(bone_lengths(poses)) == pytest.approx(stature(poses))


def test_scale_to_height_sets_the_stature_and_keeps_the_shape() -> None:
    poses = _walk_poses()
    scaled = scale_to_height(poses, 1.85)
    assert stature(scaled) == pytest.approx(1.85)
    np.testing.assert_allclose(scaled[:, 0], 0.0, atol=1e-9)  # root-relative stays root-relative
    np.testing.assert_allclose(scaled / np.linalg.norm(scaled), poses / np.linalg.norm(poses), atol=1e-9)
    with pytest.raises(ValueError, match="height must be > 0"):
        scale_to_height(poses, 0.0)


def test_lift_cli_height_option(tmp_path, capsys) -> None:
    pixels = np.random.default_rng(2).uniform(300, 700, size=(30, 17, 2))
    np.savez(tmp_path / "kp.npz", keypoints_2d=pixels, image_size=np.array([1000, 1000]))
    assert main(["lift", str(tmp_path / "kp.npz"), "--out", str(tmp_path / "a.npz"), "--height", "1.9"]) == 0
    poses = np.load(tmp_path / "a.npz")["poses_3d"]
    assert stature(poses) == pytest.approx(1.9, rel=1e-5)
    unscaled = Lifter().lift_pixels(pixels.astype(np.float32), 1000, 1000)
    np.testing.assert_allclose(poses, unscaled * (1.9 / stature(unscaled)), atol=1e-5)
    assert main(["lift", str(tmp_path / "kp.npz"), "--out", str(tmp_path / "b.npz"), "--height", "175"]) == 2
    assert "between 0.5 and 2.6" in capsys.readouterr().err
    assert not (tmp_path / "b.npz").exists()
