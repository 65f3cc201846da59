"""Fuzzing the weights readers: safetensors with hostile metadata or bytes, torch checkpoints with forged tensors.

Every load ends in a model or a one-line InputError, and never builds a model larger than its file holds.
"""

from __future__ import annotations

import json
import resource
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save_file

from fuzzing import fast, holds, slow
from poselift.models.convert import load_released_checkpoint
from poselift.models.registry import create_model
from poselift.models.weights import CONFIG_KEY, load_weights, save_weights
from poselift.training.checkpoint import load_checkpoint

MAX_GROWTH_MB = 600
"""How far the process's peak resident memory may rise over all of these tests (torch allocations are not
seen by tracemalloc): far below the 7.7 GB a forged 16,000-channel file used to allocate."""


@pytest.fixture(scope="module")
def small_weights(tmp_path_factory) -> tuple[dict, dict]:
    """(metadata, tensors) of a small real weights file."""
    path = tmp_path_factory.mktemp("weights") / "small.safetensors"
    save_weights(create_model("atcn_27f", channels=16), path)
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}


CONFIG_VALUES = st.one_of(st.integers(-5, 20000), st.sampled_from([16000, 0, -1, 1e300, "16", None, [3, 3], True]),
                          st.text(max_size=5))


def check_safetensors(small_weights, data) -> None:
    metadata, tensors = small_weights
    metadata = dict(metadata)
    config = json.loads(metadata[CONFIG_KEY])
    kind = data.draw(st.sampled_from(["config", "bytes", "tensor"]))
    tensors = dict(tensors)
    if kind == "config":
        for _ in range(data.draw(st.integers(1, 3))):
            config[data.draw(st.sampled_from(sorted(config) + ["extra"]))] = data.draw(CONFIG_VALUES)
        metadata[CONFIG_KEY] = json.dumps(config)
    elif kind == "tensor":
        name = data.draw(st.sampled_from(sorted(tensors)))
        shape = data.draw(st.lists(st.integers(0, 40), max_size=4))
        tensors[name] = torch.zeros(shape)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w.safetensors"
        save_file(tensors, str(path), metadata=metadata)
        if kind == "bytes":
            raw = bytearray(path.read_bytes())
            at = data.draw(st.integers(0, len(raw) - 1))
            raw[at] ^= data.draw(st.integers(1, 255))
            if data.draw(st.booleans()):
                del raw[data.draw(st.integers(0, len(raw) - 1)):]
            path.write_bytes(bytes(raw))
        holds("safetensors weights", lambda: load_weights(path), path.stat().st_size)


def check_checkpoint(data) -> None:
    draw = data.draw
    names = ["expand_conv.weight", "expand_bn.weight", "shrink.weight", "layers_conv.0.weight",
             "expand_conv.0.PW_conv.weight", "layers_tem_att.0.weight", "layers_conv.0.convs.0.2.weight",
             "layers_conv.0.fc.weight", "junk"]
    state = {}
    for name in draw(st.sets(st.sampled_from(names), min_size=1)):
        shape = draw(st.lists(st.integers(0, 20000 if draw(st.booleans()) else 8), max_size=4))
        if draw(st.booleans()):  # a broadcast view: a few bytes declaring a big tensor
            state[name] = torch.zeros(1).expand(*shape) if shape else torch.zeros(())
        else:
            state[name] = torch.zeros([min(s, 8) for s in shape])
    wrapper = draw(st.sampled_from(["model_pos", "top", "list"]))
    payload = {"model_pos": state} if wrapper == "model_pos" else (state if wrapper == "top" else [state])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ckpt.bin"
        torch.save(payload, path)
        holds("released checkpoint", lambda: load_released_checkpoint(path), path.stat().st_size)
        holds("training checkpoint", lambda: load_checkpoint(path), path.stat().st_size)


@pytest.fixture(scope="module", autouse=True)
def _memory_high_water():
    """The process's peak RSS may not rise by more than MAX_GROWTH_MB while these tests run."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert growth_mb < MAX_GROWTH_MB, f"peak memory rose by {growth_mb:.0f} MB"


@fast
@given(data=st.data())
def test_fuzz_safetensors(small_weights, data):
    check_safetensors(small_weights, data)


@pytest.mark.slow
@slow
@given(data=st.data())
def test_fuzz_safetensors_long(small_weights, data):
    check_safetensors(small_weights, data)


@fast
@given(data=st.data())
def test_fuzz_checkpoints(data):
    check_checkpoint(data)


@pytest.mark.slow
@slow
@given(data=st.data())
def test_fuzz_checkpoints_long(data):
    check_checkpoint(data)
