"""Training: config parsing and overrides, losses, the npz data kind, a run's outputs, exact resume,
clear errors on bad data (without losing an existing run), and a 2-process torchrun run."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from poselift.cli import main as cli_main
from poselift.data.sequences import PoseSequence
from poselift.errors import InputError
from poselift.training import losses
from poselift.training.checkpoint import load_checkpoint
from poselift.training.config import TrainConfig, config_from_dict, load_config
from poselift.training.data import build_sequences, load_sequences_npz, save_sequences_npz
from poselift.training.trainer import StepInfo, train

REPO = Path(__file__).resolve().parents[1]


# --- fixtures ----------------------------------------------------------------------------------

def _motion(rng: np.random.Generator, frames: int) -> PoseSequence:
    """A smoothly moving random 'skeleton' 4-6 m in front of a pinhole camera, projected to 2D."""
    base = rng.normal(scale=0.3, size=(1, 17, 3))
    t = np.linspace(0, 2 * np.pi, frames)[:, None, None]
    poses = base + 0.1 * np.sin(t + rng.uniform(0, 6, size=(1, 17, 3)))
    poses = poses + np.array([rng.uniform(-1, 1), 0.0, rng.uniform(4, 6)])
    keypoints = poses[..., :2] / poses[..., 2:] * 1.2
    return PoseSequence(keypoints.astype(np.float32), poses.astype(np.float32), fps=30.0, subject="s1")


@pytest.fixture(scope="module")
def data_files(tmp_path_factory) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("data")
    train_path, val_path = folder / "train.npz", folder / "val.npz"
    save_sequences_npz(train_path, [_motion(rng, n) for n in (60, 45, 50)])
    save_sequences_npz(val_path, [_motion(rng, 40)])
    return {"train": train_path, "val": val_path}


def _config(data_files, output_dir: Path, *extra: str) -> TrainConfig:
    """A tiny run: atcn_27f with 16 channels, 2 epochs of 3 batches of 48 windows."""
    return load_config(None, [
        "model.name=atcn_27f", "model.channels=16", "model.dropout=0.1",
        f"data.train={data_files['train']}", f"data.val={data_files['val']}",
        "epochs=2", "batch_size=48", "window_stride=1", "max_windows_per_epoch=144", "num_threads=1",
        "plot=false", f"output_dir={output_dir}", *extra,
    ])


def _state(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "last.pt")["model"]


def _assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def reference_run(data_files, tmp_path_factory) -> Path:
    """An uninterrupted run, the reference for the resume tests."""
    run_dir = tmp_path_factory.mktemp("runs") / "reference"
    result = train(_config(data_files, run_dir), log=lambda message: None)
    assert result.completed and result.step == 6
    return run_dir


# --- config ------------------------------------------------------------------------------------

def test_defaults_are_the_papers_recipe():
    c = TrainConfig()
    assert (c.optim.name, c.optim.lr, c.optim.lr_end, c.optim.schedule) == ("ranger", 1e-3, 1e-5, "cosine")
    assert (c.epochs, c.batch_size, c.flip_augment, c.trajectory_model) == (80, 1024, True, False)
    assert (c.loss.mpjpe, c.loss.velocity, c.loss.bone_length) == (1.0, 0.0, 0.0)
    assert (c.optim.bn_momentum_start, c.optim.bn_momentum_end) == (0.1, 0.001)


def test_toml_file_and_overrides_are_typed(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        'epochs = 5\n[model]\nname = "atcn_81f"\nchannels = 256\n[data]\nkind = "npz"\ntrain = ["a.npz"]\n'
        '[optim]\nlr = 2e-3\n',
        encoding="utf-8",
    )
    c = load_config(path, [
        "epochs=7", "optim.lr=5e-4", "flip_augment=false", "data.train=x.npz,y.npz", "model.channels=64",
        "optim.betas=[0.9, 0.99]", "model.dropout=0.25", "data.augment_proportions=no", "loss.velocity=1",
    ])
    assert c.epochs == 7 and isinstance(c.epochs, int)
    assert c.optim.lr == 5e-4 and c.flip_augment is False
    assert c.data.train == ("x.npz", "y.npz")
    assert c.model.name == "atcn_81f" and c.model.overrides == {"channels": 64} and c.model.dropout == 0.25
    assert c.optim.betas == (0.9, 0.99) and c.data.augment_proportions is False
    assert c.loss.velocity == 1.0 and isinstance(c.loss.velocity, float)
    # The resolved config survives its JSON form, model overrides flattened into [model].
    saved = json.loads(c.to_json())
    assert saved["model"]["channels"] == 64
    assert config_from_dict(saved) == c


def test_noise_is_one_level_or_a_mix(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[data]\nkind = "mocap"\nnoise = "detector"\n', encoding="utf-8")
    assert load_config(path).data.noise == ("detector",)
    assert load_config(path, ["data.noise=none,detector"]).data.noise == ("none", "detector")
    assert load_config(path, ['data.noise=["light", "heavy"]']).data.noise == ("light", "heavy")
    with pytest.raises(InputError, match="config key 'data.noise' must be one of none, light, detector, heavy"):
        load_config(path, ["data.noise=none,loud"])


def test_a_config_can_start_from_a_base_file(tmp_path):
    """`base` names another config (relative to this one): its keys apply unless this file changes them,
    table by table; a loop is a one-line error."""
    (tmp_path / "first.toml").write_text('seed = 3\nepochs = 7\n[model]\nname = "atcn_27f"\nchannels = 64\n')
    (tmp_path / "second.toml").write_text('base = "first.toml"\nepochs = 2\n[model]\nchannels = 32\n')
    config = load_config(tmp_path / "second.toml", ["seed=4"])
    assert (config.seed, config.epochs, config.model.name, config.model.overrides["channels"]) == (4, 2, "atcn_27f", 32)
    assert load_config(tmp_path / "first.toml").epochs == 7
    (tmp_path / "loop.toml").write_text('base = "loop2.toml"\n')
    (tmp_path / "loop2.toml").write_text('base = "loop.toml"\n')
    with pytest.raises(InputError, match="'base' chain loops back"):
        load_config(tmp_path / "loop.toml")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("optim.lrr=1", "unknown config key 'optim.lrr'"),
        ("epoch=3", "unknown config key 'epoch'"),
        ("epochs=abc", "config key 'epochs' expects int, found 'abc'"),
        ("epochs=0", "config key 'epochs' must be >= 1"),
        ("optim.name=sgd", "config key 'optim.name' must be one of ranger, adamw, adam"),
        ("flip_augment=maybe", "config key 'flip_augment' expects bool"),
        ("epochs", "is not of the form key=value"),
        ("data.speed_range=[1.2]", "config key 'data.speed_range' must be [] or [low, high] factors"),
        ("data.limb_rotation=-5", "config key 'data.limb_rotation' must be >= 0 degrees, found -5.0"),
        ("action_balance=1.5", "config key 'action_balance' must be in [0, 1], found 1.5"),
        ("data.arm_swap=2", "config key 'data.arm_swap' must be in [0, 1], found 2.0"),
    ],
)
def test_bad_overrides_give_one_line_errors(override, expected):
    with pytest.raises(InputError) as info:
        load_config(None, [override])
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_key_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[optim]\nlearning_rate = 0.1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.toml: unknown config key 'optim.learning_rate'"):
        load_config(path)
    path.write_text("epochs = [\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a valid TOML config"):
        load_config(path)


SHIPPED_CONFIGS = sorted(
    str(p.relative_to(REPO)) for p in [*(REPO / "configs").glob("*.toml"), *(REPO / "recipes").glob("*/*.toml")]
)


def test_the_shipped_configs_include_every_recipe_stage():
    assert sum(name.startswith("recipes/") for name in SHIPPED_CONFIGS) >= 2 and len(SHIPPED_CONFIGS) > 20


@pytest.mark.parametrize("name", SHIPPED_CONFIGS)
def test_shipped_configs_load(name):
    """Every config in configs/ and every stage of a shipped model's recipe (recipes/*/) parses, its `base`
    chain resolves, and it names a registered model."""
    from poselift.models.registry import list_models

    c = load_config(REPO / name)
    assert c.model.name in list_models()


@pytest.mark.parametrize(("name", "overrides"), [
    ("atcn_27f_mocap", []),
    ("atcn_27f_causal_mocap", ["model.name=atcn_27f_causal", "model.channels=512"]),
])
def test_the_fine_tune_config_fits_the_shipped_weights(name, overrides):
    """configs/finetune_atcn_27f_mocap.toml starts from either shipped model as its header says (same architecture)."""
    from poselift.models.registry import create_model
    from poselift.training.trainer import load_initial_weights

    config = load_config(REPO / "configs" / "finetune_atcn_27f_mocap.toml", [f"init_weights={name}", *overrides])
    model = create_model(config.model.name, **config.model.overrides)
    assert load_initial_weights(model, config.init_weights) == f"poselift train: starting from the weights of {name}"


# --- losses ------------------------------------------------------------------------------------

def test_losses():
    torch.manual_seed(0)
    target = torch.randn(4, 1, 17, 3)
    assert losses.mpjpe(target, target) == 0
    shifted = target + torch.tensor([0.03, 0.0, 0.04])
    assert losses.mpjpe(shifted, target).item() == pytest.approx(0.05)
    # Bone lengths do not change under translation but do under scaling.
    assert losses.bone_length_loss(shifted, target).item() == pytest.approx(0.0, abs=1e-6)
    assert losses.bone_length_loss(target * 1.1, target).item() > 0
    # Velocity needs at least two consecutive frames.
    assert losses.velocity_loss(target, target) is None
    seq = torch.randn(2, 5, 17, 3)
    assert losses.velocity_loss(seq + 1.0, seq).item() == pytest.approx(0.0, abs=1e-6)
    assert losses.velocity_loss(seq * 2, seq).item() > 0
    # Trajectory error is weighted by 1 / true depth: the same 0.1 m error counts half at twice the depth.
    near = torch.tensor([[[[0.0, 0.0, 2.0]]]])
    far = torch.tensor([[[[0.0, 0.0, 4.0]]]])
    err = torch.tensor([0.1, 0.0, 0.0])
    assert losses.trajectory_loss(near + err, near).item() == pytest.approx(0.05)
    assert losses.trajectory_loss(far + err, far).item() == pytest.approx(0.025)


# --- data --------------------------------------------------------------------------------------

def test_npz_sequences_round_trip(tmp_path, rng):
    seqs = [_motion(rng, 10), _motion(rng, 7)]
    seqs[1].confidence = np.ones((7, 17), np.float32)
    path = tmp_path / "seqs.npz"
    save_sequences_npz(path, seqs)
    back = load_sequences_npz(path)
    assert len(back) == 2 and back[1].confidence is not None and back[0].confidence is None
    np.testing.assert_array_equal(back[0].poses_3d, seqs[0].poses_3d)
    assert back[0].fps == 30.0 and back[0].subject == "s1"


def test_bad_npz_files_give_one_line_errors(tmp_path):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not really a zip file")
    with pytest.raises(InputError, match=r"corrupt\.npz: not a readable \.npz sequence file") as info:
        load_sequences_npz(corrupt)
    assert "\n" not in str(info.value)
    unpaired = tmp_path / "unpaired.npz"
    np.savez(unpaired, keypoints_2d_0=np.zeros((3, 17, 2), np.float32))
    with pytest.raises(InputError, match="keypoints_2d_0 has no matching poses_3d_0"):
        load_sequences_npz(unpaired)
    mismatched = tmp_path / "mismatched.npz"
    np.savez(mismatched, keypoints_2d_0=np.zeros((3, 17, 2)), poses_3d_0=np.zeros((4, 17, 3)))
    with pytest.raises(InputError, match=r"mismatched\.npz: sequence 0: .*differ"):
        load_sequences_npz(mismatched)
    with pytest.raises(InputError, match="no such data file"):
        build_sequences(load_config(None, [f"data.train={tmp_path / 'missing.npz'}"]).data, "train")
    # An empty path list (say `data.train=$UNSET_VARIABLE`) is named as such, not left to guess.
    with pytest.raises(InputError, match=r"no training sequences in data.train \(none given\)"):
        build_sequences(load_config(None, ["data.kind=mocap", "data.train="]).data, "train")


def test_h36m_data_kind(tmp_path, rng):
    from poselift.camera import load_h36m_cameras
    from poselift.data import h36m

    def world(frames):
        return (rng.normal(scale=0.25, size=(1, 32, 3)) + np.array([0.0, 0.0, 0.9])).repeat(frames, 0)

    positions = {"S1": {"Walking 1": world(20)}, "S9": {"Walking 1": world(16), "Eating": world(10)}}
    path_3d, path_2d = tmp_path / "data_3d_h36m.npz", tmp_path / "data_2d_h36m_gt.npz"
    h36m.save_positions_3d(path_3d, positions)
    h36m.save_positions_2d(path_2d, h36m.synthesise_2d(positions, load_h36m_cameras()), h36m.H36M17_METADATA)
    base = ["data.kind=h36m", f"data.data_3d={path_3d}", "data.train_subjects=S1", "data.val_subjects=S9"]
    data = load_config(None, [*base, f"data.data_2d={path_2d}", "data.downsample=2"]).data
    train_seqs, val_seqs = build_sequences(data, "train"), build_sequences(data, "val")
    assert [(s.subject, s.num_frames, s.fps) for s in train_seqs] == [("S1", 10, 25.0)] * 4
    assert sorted({s.action for s in val_seqs}) == ["Eating", "Walking 1"] and len(val_seqs) == 8
    gt = build_sequences(load_config(None, [*base, "data.data_2d=gt"]).data, "train")
    np.testing.assert_allclose(gt[0].keypoints_2d[::2], train_seqs[0].keypoints_2d, atol=1e-5)
    with pytest.raises(InputError, match="needs data.data_2d"):
        build_sequences(load_config(None, base).data, "train")


def test_mocap_data_kind_splits_by_style_and_resynthesises_per_epoch(shared_dir):
    folder = shared_dir / "data" / "mocap" / "bandai-namco" / "dataset-1"
    data = load_config(None, [
        "data.kind=mocap", f"data.train={folder}/dataset-1_bow_normal_*.bvh,{folder}/dataset-1_bow_tired_*.bvh",
        "data.holdout_styles=tired", "data.views_per_clip=2", "data.noise=light",
    ]).data
    train0, train0_again, train1 = (build_sequences(data, "train", epoch) for epoch in (0, 0, 1))
    val0, val1 = build_sequences(data, "val", 0), build_sequences(data, "val", 5)
    assert {s.action for s in train0} == {"dataset-1_bow_normal_001"} and len(train0) == 2
    assert {s.action for s in val0} == {"dataset-1_bow_tired_001"}
    np.testing.assert_array_equal(train0[0].keypoints_2d, train0_again[0].keypoints_2d)
    assert not np.array_equal(train0[0].keypoints_2d, train1[0].keypoints_2d)  # fresh cameras each epoch
    np.testing.assert_array_equal(val0[0].keypoints_2d, val1[0].keypoints_2d)  # a fixed validation set
    assert train0[0].fps == 30.0 and np.isfinite(train0[0].poses_3d).all()
    # Validation keeps the actors' own bodies (as `poselift evaluate --bvh`); training varies them.
    from poselift.body_size import bone_lengths
    from poselift.data.mocap import load_mocap

    own = bone_lengths(load_mocap([folder / "dataset-1_bow_tired_001.bvh"])[0].joints_3d)
    np.testing.assert_allclose(bone_lengths(val0[0].poses_3d), own, atol=1e-4)
    assert np.abs(bone_lengths(train0[0].poses_3d)[1:] / own[1:] - 1).max() > 0.02
    with pytest.raises(InputError, match="no files match this pattern"):
        build_sequences(load_config(None, ["data.kind=mocap", f"data.train={folder}/nothing_*.bvh"]).data, "train")
    # Speed augmentation changes the training pieces' lengths, never the validation set.
    fast = dataclasses.replace(data, speed_range=(1.5, 1.5))
    assert build_sequences(fast, "train", 0)[0].num_frames < train0[0].num_frames
    np.testing.assert_array_equal(build_sequences(fast, "val", 0)[0].keypoints_2d, val0[0].keypoints_2d)
    # Limb rotation changes the training poses, never the validation set.
    turned = dataclasses.replace(data, limb_rotation=20.0)
    turned_train = build_sequences(turned, "train", 0)[0]
    assert turned_train.num_frames == train0[0].num_frames
    assert np.abs(turned_train.keypoints_2d - train0[0].keypoints_2d).max() > 0.01
    np.testing.assert_array_equal(build_sequences(turned, "val", 0)[0].keypoints_2d, val0[0].keypoints_2d)
    # So does borrowing arms from other clips.
    swapped = dataclasses.replace(data, arm_swap=1.0)
    assert np.abs(build_sequences(swapped, "train", 0)[0].keypoints_2d - train0[0].keypoints_2d).max() > 0.01
    np.testing.assert_array_equal(build_sequences(swapped, "val", 0)[0].keypoints_2d, val0[0].keypoints_2d)


# --- training runs -----------------------------------------------------------------------------

def test_a_run_writes_its_outputs(reference_run):
    from poselift.models.weights import load_weights

    files = {p.name for p in reference_run.iterdir()}
    assert {"config.json", "last.pt", "metrics.csv", "metrics.jsonl", "final.safetensors", "best.safetensors"} <= files
    assert not [name for name in files if name.startswith(".")]  # no temporary files left behind
    rows = [json.loads(line) for line in (reference_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and [r["step"] for r in rows] == [3, 6]
    assert all(np.isfinite(r["val_mpjpe_mm"]) and np.isfinite(r["val_p_mpjpe_mm"]) for r in rows)
    assert rows[1]["lr"] < rows[0]["lr"] < 1e-3
    csv_lines = (reference_run / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,step,lr") and len(csv_lines) == 3
    assert json.loads((reference_run / "config.json").read_text())["model"]["channels"] == 16
    model = load_weights(reference_run / "final.safetensors")
    assert model.receptive_field == 27 and model.meta["fps"] == 30.0 and model.meta["joint_layout"] == "h36m17"
    _assert_same_weights(model.state_dict(), {k[5:]: v for k, v in _state(reference_run).items()})


def test_resume_after_a_crash_is_bit_identical(data_files, reference_run, tmp_path):
    run_dir = tmp_path / "crashed"

    def crash_at_step_5(info: StepInfo) -> None:
        if info.step == 5:
            raise RuntimeError("simulated crash")

    config = _config(data_files, run_dir, "checkpoint_every_steps=2")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, callbacks=[crash_at_step_5], log=lambda message: None)
    checkpoint = load_checkpoint(run_dir / "last.pt")
    assert checkpoint["state"]["step"] == 4 and checkpoint["state"]["epoch"] == 1  # mid-way through epoch 2
    result = train(config, log=lambda message: None)  # finds last.pt and continues
    assert result.completed and result.step == 6
    _assert_same_weights(_state(run_dir), _state(reference_run))
    reference = load_checkpoint(reference_run / "last.pt")
    assert load_checkpoint(run_dir / "last.pt")["optimizer"]["counter"] == reference["optimizer"]["counter"]
    ref_rows = [json.loads(line) for line in (reference_run / "metrics.jsonl").read_text().splitlines()]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for row, ref in zip(rows, ref_rows, strict=True):
        assert row["val_mpjpe_mm"] == ref["val_mpjpe_mm"] and row["train_loss_mm"] == ref["train_loss_mm"]


def test_resuming_a_checkpoint_with_tensors_of_the_wrong_shape_is_a_one_line_error(data_files, reference_run,
                                                                                    tmp_path):
    run_dir = tmp_path / "tampered"
    run_dir.mkdir()
    checkpoint = load_checkpoint(reference_run / "last.pt")
    name = next(k for k, v in checkpoint["model"].items() if v.ndim == 3)
    checkpoint["model"][name] = checkpoint["model"][name][..., 0]  # one rank fewer
    torch.save(checkpoint, run_dir / "last.pt")
    with pytest.raises(InputError) as error:
        train(_config(data_files, run_dir), log=lambda message: None)
    assert "last.pt" in str(error.value) and "does not fit" in str(error.value) and "\n" not in str(error.value)


def test_fast_training_form_trains_the_same_weights_as_the_plain_model(data_files, tmp_path):
    """The channels-last training form is an implementation detail: without dropout (whose masks it draws in
    another order) a run through it ends with the plain run's weights, under the plain model's state keys."""
    runs = {}
    for fast in (True, False):
        run_dir = tmp_path / f"fast-{fast}"
        train(_config(data_files, run_dir, "model.dropout=0", f"fast_training={str(fast).lower()}"),
              log=lambda message: None)
        runs[fast] = _state(run_dir)
    from poselift.models.fused import ChannelsLastAttentionNet
    from poselift.models.registry import create_model
    from poselift.training.trainer import TrainingModule

    module = TrainingModule(create_model("atcn_27f", channels=16, dropout=0.0), fast=True)
    assert isinstance(module._fast_forms[0], ChannelsLastAttentionNet)  # the run above went through it
    assert runs[True].keys() == runs[False].keys()
    assert all(key.startswith("pose.") for key in runs[True])
    for key, value in runs[False].items():
        torch.testing.assert_close(runs[True][key], value, rtol=1e-4, atol=1e-5, msg=key)


def test_max_steps_stops_and_the_next_call_continues_exactly(data_files, reference_run, tmp_path):
    run_dir = tmp_path / "stepped"
    stopped = train(_config(data_files, run_dir, "max_steps=2"), log=lambda message: None)
    assert not stopped.completed and stopped.step == 2 and not (run_dir / "final.safetensors").exists()
    assert cli_main(["train", "--config", str(run_dir / "config.json"), "max_steps=0"]) == 0
    _assert_same_weights(_state(run_dir), _state(reference_run))


def test_a_run_stopped_at_an_epochs_last_step_resumes_without_a_made_up_speed(data_files, reference_run, tmp_path):
    """Stopped by max_steps on the epoch's last batch, the resumed run closes that epoch having trained
    nothing: its speed is unknown (None), not 0 windows/s, and the run still ends with the reference weights."""
    reference = [json.loads(line) for line in (reference_run / "metrics.jsonl").read_text().splitlines()]
    run_dir = tmp_path / "stepped"
    train(_config(data_files, run_dir, f"max_steps={reference[0]['step']}"), log=lambda message: None)
    assert cli_main(["train", "--config", str(run_dir / "config.json"), "max_steps=0"]) == 0
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["windows_per_second"] is None
    assert all(row["windows_per_second"] > 0 for row in rows[1:])
    assert [row["val_mpjpe_mm"] for row in rows] == [row["val_mpjpe_mm"] for row in reference]
    _assert_same_weights(_state(run_dir), _state(reference_run))


def test_init_weights_starts_from_a_weights_file_and_refuses_another_architecture(data_files, reference_run, tmp_path):
    """Fine-tuning: the run starts from the donor's weights (one step at a tiny learning rate leaves them in
    place), a fresh run does not, and a donor of another architecture is refused by name."""
    donor = reference_run / "final.safetensors"
    from poselift.models.weights import load_weights

    donor_state = load_weights(donor).state_dict()
    for init, should_match in ((str(donor), True), ("", False)):
        run_dir = tmp_path / f"init-{should_match}"
        train(_config(data_files, run_dir, f"init_weights={init}", "max_steps=1", "optim.lr=1e-12",
                      "optim.lr_end=1e-12", "optim.weight_decay=0"), log=lambda message: None)
        state = {k[5:]: v for k, v in _state(run_dir).items()}
        weights = [k for k in donor_state if k.endswith(".weight") and donor_state[k].ndim > 1]
        matches = all(torch.allclose(state[k], donor_state[k], atol=1e-6) for k in weights)
        assert matches == should_match
    with pytest.raises(InputError, match=r"architecture differs .*channels is 16 in the weights, 8 .*not narrow"):
        train(_config(data_files, tmp_path / "narrow", f"init_weights={donor}", "model.channels=8"),
              log=lambda message: None)
    with pytest.raises(InputError, match=r"architecture differs .*causal is False in the weights, True"):
        train(_config(data_files, tmp_path / "causal", f"init_weights={donor}", "model.causal=true"),
              log=lambda message: None)
    assert not (tmp_path / "narrow").exists() and not (tmp_path / "causal").exists()


def test_init_weights_widens_a_narrower_donor_keeping_its_output(data_files, reference_run, tmp_path):
    """A 32-channel run from the 16-channel reference starts where the donor is (Net2Net widening, output
    within a small fraction of what a random start is away); the log says so."""
    from poselift.models.weights import load_weights

    donor = reference_run / "final.safetensors"
    messages: list[str] = []
    outputs = {}
    for init in (str(donor), ""):
        run_dir = tmp_path / f"wide-{bool(init)}"
        train(_config(data_files, run_dir, f"init_weights={init}", "model.channels=32", "epochs=1",
                      "max_windows_per_epoch=48", "optim.lr=1e-12", "optim.lr_end=1e-12",
                      "optim.weight_decay=0"), log=messages.append)
        outputs[bool(init)] = load_weights(run_dir / "final.safetensors").eval()
    assert any("widened from 16 to 32 channels" in message for message in messages)
    narrow = load_weights(donor).eval()
    windows = torch.randn(8, narrow.receptive_field, 17, 2) * 0.3
    with torch.no_grad():
        expected = narrow(windows)
        widened_gap = (outputs[True](windows) - expected).abs().mean()
        fresh_gap = (outputs[False](windows) - expected).abs().mean()
    assert widened_gap < 0.05 * fresh_gap


def test_resuming_with_a_different_config_is_refused(data_files, reference_run, tmp_path):
    with pytest.raises(InputError, match=r"different config \(optim\.lr = 0\.001, now 0\.002\)"):
        train(_config(data_files, reference_run, "optim.lr=2e-3"), log=lambda message: None)


def test_a_run_saved_before_a_key_was_added_or_reshaped_still_resumes(data_files, tmp_path):
    from poselift.training.trainer import check_same_run

    config = _config(data_files, tmp_path / "old")
    saved = config.to_dict()
    del saved["init_weights"]  # added later; the default is what the old run did
    saved["data"]["noise"] = config.data.noise[0]  # once a single string, now a list
    check_same_run(config, saved, tmp_path / "last.pt")
    saved["seed"] = 5
    with pytest.raises(InputError, match=r"different config \(seed = 5, now 0\)"):
        check_same_run(config, saved, tmp_path / "last.pt")


def test_corrupt_data_is_a_one_line_error_and_keeps_the_run(data_files, tmp_path, capsys):
    train_copy, val_copy = tmp_path / "train.npz", tmp_path / "val.npz"
    train_copy.write_bytes(data_files["train"].read_bytes())
    val_copy.write_bytes(data_files["val"].read_bytes())
    run_dir = tmp_path / "run"
    train(_config({"train": train_copy, "val": val_copy}, run_dir, "epochs=1"), log=lambda message: None)
    before = (run_dir / "last.pt").read_bytes()
    train_copy.write_bytes(data_files["train"].read_bytes()[:200])  # the data file gets truncated
    status = cli_main(["train", "--config", str(run_dir / "config.json"), "epochs=2"])  # extend the run
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("poselift: error: ") and "train.npz: not a readable .npz sequence file" in err
    assert err.count("\n") == 1
    assert (run_dir / "last.pt").read_bytes() == before
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 1


def test_action_balance_changes_which_windows_an_epoch_trains_on(data_files, reference_run, tmp_path):
    run_dir = tmp_path / "balanced"
    result = train(_config(data_files, run_dir, "action_balance=1"), log=lambda message: None)
    assert result.completed and result.step == 6  # an epoch keeps its length
    balanced, uniform = _state(run_dir), _state(reference_run)
    assert not all(torch.equal(balanced[key], uniform[key]) for key in uniform)


def test_trajectory_model_and_flip_off(data_files, tmp_path):
    run_dir = tmp_path / "trajectory"
    result = train(
        _config(data_files, run_dir, "trajectory_model=true", "flip_augment=false", "epochs=1",
                "loss.bone_length=0.5", "optim.name=adamw", "val_flip=false", "model.input_norm=frame"),
        log=lambda message: None,
    )
    assert result.completed
    from poselift.models.weights import load_weights

    trajectory = load_weights(run_dir / "trajectory-final.safetensors")
    assert trajectory.config.num_joints_out == 1
    # The pose network ignores where the person is; the root's position cannot.
    assert load_weights(run_dir / "final.safetensors").config.input_norm == "frame"
    assert trajectory.config.input_norm == "screen"
    assert all(torch.isfinite(v).all() for v in trajectory.state_dict().values())


def test_two_processes_under_torchrun_write_one_set_of_outputs(data_files, tmp_path):
    run_dir = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "poselift", "train", "--config", str(REPO / "configs" / "tiny_mocap.toml"),
        "data.kind=npz", f"data.train={data_files['train']}", f"data.val={data_files['val']}",
        "model.name=atcn_27f", "model.channels=16", "epochs=2", "batch_size=48", "window_stride=1",
        "max_windows_per_epoch=144",
        "num_threads=1", "plot=false", f"output_dir={run_dir}",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == ["best.safetensors", "config.json", "final.safetensors", "last.pt", "metrics.csv",
                     "metrics.jsonl"]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[0]["train_windows"] == 144  # each rank trains on its own 72 windows
    assert rows[0]["step"] == 3  # 3 steps of 2 x 24 windows
    state = _state(run_dir)
    assert all(torch.isfinite(v).all() for v in state.values())
