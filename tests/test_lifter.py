"""The Lifter: one pose per frame, edge padding, batching, flip averaging, streaming, input errors."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from poselift.cli import main
from poselift.errors import InputError
from poselift.inference import Lifter
from poselift.models.registry import create_model
from poselift.models.weights import average_weights, load_weights, save_weights
from poselift.skeleton import flip_poses


def _model(name: str, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model(name, channels=32, **overrides).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_(0, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model


def _keypoints(frames: int = 60, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(frames, 17, 2)) * 0.3).astype(np.float32)


@pytest.mark.parametrize("name", ["atcn_27f", "atcn_27f_causal", "videopose3d_27f", "videopose3d_27f"])
def test_one_pose_per_frame_matches_per_window_evaluation(name: str) -> None:
    model = _model(name)
    lifter = Lifter(model, flip=False, batch_size=7, chunk_frames=13)
    keypoints = _keypoints(40)
    poses = lifter.lift(keypoints)
    assert poses.shape == (40, 17, 3)
    rf = model.receptive_field
    before = rf - 1 if model.causal else rf // 2
    after = 0 if model.causal else rf // 2
    padded = np.concatenate([np.repeat(keypoints[:1], before, 0), keypoints, np.repeat(keypoints[-1:], after, 0)])
    with torch.no_grad():
        for t in (0, 5, 39):
            expected = model(torch.from_numpy(padded[t : t + rf])[None])[0, 0].numpy()
            np.testing.assert_allclose(poses[t], expected, atol=1e-5)


def test_short_sequences_are_padded_with_edge_frames() -> None:
    lifter = Lifter(_model("atcn_27f"), flip=False)
    still = np.repeat(_keypoints(1), 5, axis=0)
    poses = lifter.lift(still)
    assert poses.shape == (5, 17, 3)
    np.testing.assert_allclose(poses, np.repeat(poses[:1], 5, 0), atol=1e-6)


@pytest.mark.parametrize("name", ["atcn_27f", "videopose3d_27f", "atcn_27f_causal"])
def test_flip_averaging_is_mirror_equivariant(name: str) -> None:
    lifter = Lifter(_model(name), flip=True)
    keypoints = _keypoints(30)
    poses = lifter.lift(keypoints)
    mirrored_poses = lifter.lift(flip_poses(keypoints))
    np.testing.assert_allclose(mirrored_poses, flip_poses(poses), atol=1e-5)
    plain = Lifter(lifter.model, flip=False).lift(keypoints)
    assert not np.allclose(plain, poses, atol=1e-4)


class _PlanarLifter(torch.nn.Module):
    """A stand-in model that is exactly roll-equivariant: the centre frame's 2D about the pelvis as x, y and a
    depth of 0, plus a fixed `offset` along x (which a roll does not carry along)."""

    receptive_field, causal, meta = 3, False, {}

    def __init__(self, offset: float = 0.0):
        super().__init__()
        self.config = type("Config", (), {"num_joints_in": 17, "num_joints_out": 17})()
        self.offset = offset

    def forward(self, windows: torch.Tensor) -> torch.Tensor:  # (B, RF, J, 2) -> (B, 1, J, 3)
        centre = windows[:, 1:2] - windows[:, 1:2, :1]
        out = torch.cat([centre, torch.zeros_like(centre[..., :1])], dim=-1)
        out[..., 0] += self.offset
        return out


def test_roll_averaging_turns_each_view_back_and_averages_them() -> None:
    """A model that turns with the camera gives the same poses with roll averaging (the views are turned back
    the right way); a fixed offset along x is averaged over the three turns, (1 + 2 cos a) / 3 of it."""
    keypoints = _keypoints(12)
    plain = Lifter(_PlanarLifter(), flip=False).lift(keypoints)
    np.testing.assert_allclose(Lifter(_PlanarLifter(), flip=False, roll_tta=20.0).lift(keypoints), plain,
                               atol=1e-6)
    shifted = Lifter(_PlanarLifter(offset=0.1), flip=False, roll_tta=20.0).lift(keypoints)
    expected = plain.copy()
    expected[..., 0] += 0.1 * (1 + 2 * np.cos(np.radians(20.0))) / 3
    np.testing.assert_allclose(shifted, expected, atol=1e-6)
    with_flip = Lifter(_model("atcn_27f"), roll_tta=10.0)
    np.testing.assert_allclose(with_flip.lift(flip_poses(keypoints)), flip_poses(with_flip.lift(keypoints)),
                               atol=1e-5)


def test_causal_lifting_never_looks_ahead() -> None:
    lifter = Lifter(_model("atcn_27f_causal"), flip=True)
    keypoints = _keypoints(50)
    changed = keypoints.copy()
    changed[30:] += 0.4
    a, b = lifter.lift(keypoints), lifter.lift(changed)
    np.testing.assert_array_equal(a[:30], b[:30])
    assert not np.allclose(a[30:], b[30:])


def test_stream_equals_whole_sequence_for_causal_models() -> None:
    lifter = Lifter(_model("atcn_27f_causal"), flip=True)
    keypoints = _keypoints(35)
    stream = lifter.stream()
    streamed = np.stack([stream.push(frame) for frame in keypoints])
    np.testing.assert_allclose(streamed, lifter.lift(keypoints), atol=1e-5)
    with pytest.raises(InputError, match="causal"):
        Lifter(_model("atcn_27f")).stream()


def test_lift_pixels_normalises_like_videopose3d() -> None:
    lifter = Lifter(_model("atcn_27f"), flip=False)
    pixels = np.random.default_rng(1).uniform(0, 640, size=(10, 17, 2)).astype(np.float32)
    normalised = pixels / 640 * 2 - np.array([1, 480 / 640], dtype=np.float32)
    np.testing.assert_allclose(lifter.lift_pixels(pixels, 640, 480), lifter.lift(normalised), atol=1e-6)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((10, 25, 2)), "expected 17 joints per frame, found 25"),
        (np.zeros((10, 17)), "expected keypoints of shape"),
        (np.zeros((0, 17, 2)), "no frames"),
        (np.full((10, 17, 2), np.nan), "NaN"),
    ],
)
def test_malformed_keypoints_are_refused(array: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Lifter(_model("atcn_27f")).lift(array, source="kp.npz")


def test_weights_file_rebuilds_its_model(tmp_path) -> None:
    model = _model("atcn_81f_causal", dropout=0.1)
    path = save_weights(model, tmp_path / "m.safetensors", {"fps": 30})
    loaded = load_weights(path)
    assert loaded.config == model.config and loaded.meta["fps"] == 30
    x = torch.randn(2, 81, 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_averaged_weights_are_the_mean_of_every_tensor_and_refuse_another_architecture(tmp_path) -> None:
    first, second = _model("atcn_27f"), _model("atcn_27f")
    with torch.no_grad():
        for p in second.parameters():
            p.add_(torch.randn_like(p))
        for module in second.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_var.mul_(3.0)
    a = save_weights(first, tmp_path / "a.safetensors", {"fps": 30, "steps": 100, "train_config": {"seed": 1}})
    b = save_weights(second, tmp_path / "b.safetensors")
    soup = average_weights([a, b])
    state, sa, sb = soup.state_dict(), first.state_dict(), second.state_dict()
    for key, value in state.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, (sa[key] + sb[key]) / 2)
    bn_var = "stem.pointwise_bn.running_var"
    assert not torch.equal(state[bn_var], sa[bn_var])
    assert soup.meta["fps"] == 30 and soup.meta["averaged_from"] == [str(a), str(b)]
    assert "steps" not in soup.meta  # one ingredient's training facts do not describe the average
    assert "train_config" not in soup.meta
    alone = average_weights([a])
    torch.testing.assert_close(alone.state_dict()[bn_var], sa[bn_var])
    assert "averaged_from" not in alone.meta
    other = save_weights(_model("atcn_81f"), tmp_path / "c.safetensors")
    with pytest.raises(InputError, match=r"c\.safetensors: a different architecture"):
        average_weights([a, other])


def test_half_precision_weights_file_is_half_the_size_and_loads_as_float32(tmp_path) -> None:
    from safetensors.torch import load_file

    model = _model("atcn_27f")
    full = save_weights(model, tmp_path / "full.safetensors")
    half = save_weights(model, tmp_path / "half.safetensors", half=True)
    stored = load_file(str(half))
    assert {v.dtype for k, v in stored.items() if "num_batches" not in k} == {torch.float16}
    assert stored[next(k for k in stored if "num_batches" in k)].dtype == torch.int64  # counters stay integers
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_weights(half)
    assert loaded.meta["storage_dtype"] == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = torch.randn(2, 27, 17, 2)
    with torch.no_grad():
        reference, rounded = model(x), loaded(x)
    assert not torch.equal(reference, rounded)  # the weights were rounded ...
    torch.testing.assert_close(rounded, reference, atol=5e-3, rtol=0)  # ... by little


def test_lift_cli_reads_pixels_and_writes_poses(tmp_path, capsys) -> None:
    weights = save_weights(_model("atcn_27f"), tmp_path / "m.safetensors")
    pixels = np.random.default_rng(2).uniform(0, 1000, size=(20, 17, 2))
    np.savez(tmp_path / "kp.npz", keypoints_2d=pixels, image_size=np.array([1000, 1000]))
    out = tmp_path / "poses.npz"
    assert main(["lift", str(tmp_path / "kp.npz"), "--model", str(weights), "--out", str(out)]) == 0
    poses = np.load(out)["poses_3d"]
    expected = Lifter(str(weights)).lift_pixels(pixels.astype(np.float32), 1000, 1000)
    np.testing.assert_allclose(poses, expected, atol=1e-6)


def _cli_error(capsys, args: list[str]) -> str:
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_cli_errors_are_one_line_and_name_the_file(tmp_path, capsys) -> None:
    weights = save_weights(_model("atcn_27f"), tmp_path / "m.safetensors")
    np.savez(tmp_path / "bad.npz", keypoints_2d=np.zeros((10, 25, 2)))
    line = _cli_error(capsys, ["lift", str(tmp_path / "bad.npz"), "--model", str(weights), "--out", "x.npz"])
    assert "bad.npz" in line and "found 25" in line
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    line = _cli_error(capsys, ["lift", str(tmp_path / "junk.npz"), "--model", str(weights), "--out", "x.npz"])
    assert "junk.npz" in line and "npz" in line
    np.savez(tmp_path / "ok.npz", keypoints_2d=np.zeros((10, 17, 2)))
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x00" * 64)
    line = _cli_error(capsys, ["lift", str(tmp_path / "ok.npz"), "--model", str(tmp_path / "corrupt.safetensors"),
                               "--out", "x.npz"])
    assert "corrupt.safetensors" in line
    assert not (tmp_path / "x.npz").exists()


def test_convert_refuses_corrupt_foreign_and_malicious_checkpoints(tmp_path, capsys) -> None:
    (tmp_path / "corrupt.bin").write_bytes(b"garbage")
    line = _cli_error(capsys, ["convert", str(tmp_path / "corrupt.bin"), str(tmp_path / "o.safetensors")])
    assert "corrupt.bin" in line
    torch.save({"model_pos": {"fc.weight": torch.zeros(3, 3)}}, tmp_path / "foreign.bin")
    line = _cli_error(capsys, ["convert", str(tmp_path / "foreign.bin"), str(tmp_path / "o.safetensors")])
    assert "foreign.bin" in line and "match neither" in line

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(tmp_path / "evil.bin", "wb") as f:
        pickle.dump({"model_pos": {"x": Exploit()}}, f)
    line = _cli_error(capsys, ["convert", str(tmp_path / "evil.bin"), str(tmp_path / "o.safetensors")])
    assert "evil.bin" in line
    assert not marker.exists()
    assert not (tmp_path / "o.safetensors").exists()


def test_released_checkpoint_with_numpy_random_state_converts(tmp_path) -> None:
    """Released files hold optimizer state and a pickled RandomState; both numpy module spellings load."""
    from poselift.models.convert import load_released_checkpoint

    model = _model("videopose3d_27f")
    # Our names back to VideoPose3D's: blocks.i.dilated -> layers_conv.2i, blocks.i.pointwise_bn -> layers_bn.2i+1.
    released = {}
    for name, value in model.state_dict().items():
        parts = name.split(".")
        if parts[0] == "blocks":
            i, kind, rest = int(parts[1]), parts[2], ".".join(parts[3:])
            index = 2 * i + (kind.startswith("pointwise"))
            released[f"layers_{'bn' if kind.endswith('_bn') else 'conv'}.{index}.{rest}"] = value
        elif parts[0] == "head":
            released["shrink." + ".".join(parts[1:])] = value
        else:
            released[name] = value
    checkpoint = {"epoch": 60, "lr": 1e-4, "random_state": np.random.RandomState(42), "model_pos": released,
                  "optimizer": torch.optim.Adam(model.parameters()).state_dict()}
    path = tmp_path / "pretrained_h36m_cpn.bin"
    torch.save(checkpoint, path, _use_new_zipfile_serialization=False)
    legacy = path.read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    (tmp_path / "legacy.bin").write_bytes(legacy)
    for file in (path, tmp_path / "legacy.bin"):
        converted = load_released_checkpoint(file)
        x = torch.randn(2, 27, 17, 2)
        with torch.no_grad():
            torch.testing.assert_close(converted(x), model(x))


@pytest.mark.parametrize("input_norm", ["screen", "frame_place"])
def test_onnx_export_matches_pytorch(tmp_path, input_norm: str) -> None:
    pytest.importorskip("onnxruntime")
    from poselift.export.onnx import export_onnx

    error = export_onnx(_model("atcn_27f", input_norm=input_norm), tmp_path / "m.onnx")
    assert error is not None and error < 1e-4
    weights = save_weights(_model("videopose3d_27f"), tmp_path / "v.safetensors")
    assert main(["export-onnx", "--model", str(weights), "--out", str(tmp_path / "v.onnx")]) == 0
