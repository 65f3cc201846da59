"""Reproduce the public reference implementations' outputs (../shared/reference) to within 1e-4."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from poselift.inference import Lifter
from poselift.models.convert import convert_state_dict
from poselift.models.registry import build_model

CASES = [
    ("attention_243f_64ch", False),
    ("videopose3d_27f_symmetric_128ch", False),
    ("videopose3d_243f_causal_128ch", True),
]


def _load_reference(shared_dir, name):
    data = np.load(shared_dir / "reference" / f"{name}.npz")
    info = json.loads((shared_dir / "reference" / f"{name}.json").read_text())
    state = {k.removeprefix("weight/"): torch.from_numpy(data[k]) for k in data.files if k.startswith("weight/")}
    return data["input_2d"].astype(np.float32), data["output_3d"], state, info


@pytest.mark.parametrize(("name", "causal"), CASES)
def test_reference_vectors_through_the_api(shared_dir, name: str, causal: bool) -> None:
    inputs, expected, state, info = _load_reference(shared_dir, name)
    config, renamed = convert_state_dict(state, causal=causal)
    assert config.channels == info["channels"] and config.causal == info["causal"]
    model = build_model(config)
    model.load_state_dict(renamed, strict=True)
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(inputs)).numpy()
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize(("name", "causal"), CASES)
def test_reference_vectors_through_convert_and_lift(shared_dir, tmp_path, name: str, causal: bool) -> None:
    """A released-style pickle -> `poselift convert` -> `poselift lift` gives the reference outputs."""
    from poselift.cli import main

    inputs, expected, state, _ = _load_reference(shared_dir, name)
    checkpoint = tmp_path / "released.bin"
    torch.save({"epoch": 80, "random_state": np.random.RandomState(0), "model_pos": state,
                "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3, "params": []}]}}, checkpoint)
    weights = tmp_path / "converted.safetensors"
    args = ["convert", str(checkpoint), str(weights), "--from", "liu2020" if "attention" in name else "videopose3d"]
    assert main(args + (["--causal"] if causal else [])) == 0
    lifter = Lifter(str(weights), flip=False)
    rf = lifter.receptive_field
    for b in range(inputs.shape[0]):
        sequence = inputs[b]
        keypoints = tmp_path / f"kp{b}.npz"
        np.savez(keypoints, keypoints_2d=sequence)
        out_file = tmp_path / f"out{b}.npz"
        assert main(["lift", str(keypoints), "--model", str(weights), "--out", str(out_file), "--no-flip"]) == 0
        poses = np.load(out_file)["poses_3d"]
        assert poses.shape == (sequence.shape[0], 17, 3)
        # Lifted frame t comes from the window whose target is t; the reference's output i covers
        # input frames i..i+RF-1, whose target is the centre (symmetric) or the last frame (causal).
        target_offset = rf - 1 if causal else rf // 2
        n_out = expected.shape[1]
        np.testing.assert_allclose(poses[target_offset : target_offset + n_out], expected[b], atol=1e-4, rtol=0)
        np.testing.assert_allclose(lifter.lift(sequence)[target_offset : target_offset + n_out], expected[b],
                                   atol=1e-4, rtol=0)
