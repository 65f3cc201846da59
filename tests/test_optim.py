"""Optimisers and schedules: Lookahead's update rule and exact state round-trip, LR and BN-momentum schedules."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from poselift.training.config import OptimConfig
from poselift.training.optim import (
    Lookahead,
    bn_momentum,
    build_optimizer,
    learning_rate,
    set_bn_momentum,
    set_learning_rate,
)


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _step(model: nn.Module, optimizer, i: int) -> None:
    g = torch.Generator().manual_seed(100 + i)
    x, y = torch.randn(16, 4, generator=g), torch.randn(16, 3, generator=g)
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()


def test_ranger_is_radam_wrapped_in_lookahead():
    optimizer = build_optimizer(_model().parameters(), OptimConfig())
    assert isinstance(optimizer, Lookahead)
    assert isinstance(optimizer.optimizer, torch.optim.RAdam)
    group = optimizer.param_groups[0]
    assert group["betas"] == (0.95, 0.999) and group["eps"] == 1e-5 and group["lr"] == 1e-3
    assert (optimizer.k, optimizer.alpha) == (6, 0.5)
    assert isinstance(build_optimizer(_model().parameters(), OptimConfig(name="adamw")), torch.optim.AdamW)
    assert isinstance(build_optimizer(_model().parameters(), OptimConfig(name="adam")), torch.optim.Adam)


def test_lookahead_interpolates_every_k_steps():
    model = _model()
    start = [p.detach().clone() for p in model.parameters()]
    inner = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer = Lookahead(inner, k=3, alpha=0.5)
    # A plain SGD twin shows where the fast weights would be after 3 steps.
    twin = _model()
    twin_opt = torch.optim.SGD(twin.parameters(), lr=0.1)
    for i in range(3):
        _step(model, optimizer, i)
        _step(twin, twin_opt, i)
    for p, s, fast in zip(model.parameters(), start, twin.parameters(), strict=True):
        torch.testing.assert_close(p, s + 0.5 * (fast - s))
    for p, slow in zip(model.parameters(), optimizer.slow[0], strict=True):
        assert torch.equal(p, slow)


def test_lookahead_state_round_trip_continues_exactly():
    config = OptimConfig(lookahead_k=4)
    model_a = _model()
    opt_a = build_optimizer(model_a.parameters(), config)
    for i in range(6):  # mid-way through a Lookahead cycle (counter 6, k 4)
        _step(model_a, opt_a, i)
    # Through bytes, as a checkpoint would be (state_dict() returns live references to the state tensors).
    buffer = io.BytesIO()
    torch.save({"model": model_a.state_dict(), "opt": opt_a.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    saved_model, saved_opt = saved["model"], saved["opt"]
    assert saved_opt["counter"] == 6 and len(saved_opt["slow"][0]) == len(list(model_a.parameters()))

    model_b = _model(seed=123)  # different initial weights: everything must come from the state
    opt_b = build_optimizer(model_b.parameters(), config)
    model_b.load_state_dict(saved_model)
    opt_b.load_state_dict(saved_opt)
    assert opt_b.counter == 6
    for i in range(6, 13):
        _step(model_a, opt_a, i)
        _step(model_b, opt_b, i)
    for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_lookahead_state_without_slow_weights_would_diverge():
    # The slow weights matter: resetting them to the current weights changes the trajectory.
    config = OptimConfig(lookahead_k=4)
    model_a, model_b = _model(), _model()
    opt_a, opt_b = build_optimizer(model_a.parameters(), config), build_optimizer(model_b.parameters(), config)
    for i in range(6):
        _step(model_a, opt_a, i)
        _step(model_b, opt_b, i)
    for slow, p in zip(opt_b.slow[0], model_b.parameters(), strict=True):
        slow.copy_(p.detach())
    for i in range(6, 9):
        _step(model_a, opt_a, i)
        _step(model_b, opt_b, i)
    assert not all(torch.equal(a, b) for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True))


def test_cosine_schedule_goes_from_lr_to_lr_end():
    config = OptimConfig()
    assert learning_rate(config, 0, 80) == pytest.approx(1e-3)
    assert learning_rate(config, 40, 80) == pytest.approx((1e-3 + 1e-5) / 2)
    assert learning_rate(config, 80, 80) == pytest.approx(1e-5)
    values = [learning_rate(config, e / 10, 80) for e in range(801)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))


def test_other_schedules_and_epoch_unit():
    exp = OptimConfig(schedule="exponential")
    assert learning_rate(exp, 0, 10) == pytest.approx(1e-3)
    assert learning_rate(exp, 5, 10) == pytest.approx(1e-4)
    assert learning_rate(exp, 10, 10) == pytest.approx(1e-5)
    assert learning_rate(OptimConfig(schedule="constant"), 7.5, 10) == 1e-3
    per_epoch = OptimConfig(schedule_unit="epoch")
    assert learning_rate(per_epoch, 3.9, 10) == learning_rate(per_epoch, 3, 10)
    assert learning_rate(OptimConfig(), 3.9, 10) < learning_rate(OptimConfig(), 3, 10)


def test_set_learning_rate_reaches_the_inner_optimizer():
    optimizer = build_optimizer(_model().parameters(), OptimConfig())
    set_learning_rate(optimizer, 0.123)
    assert optimizer.optimizer.param_groups[0]["lr"] == 0.123


def test_bn_momentum_decays_from_0_1_to_0_001():
    config = OptimConfig()
    assert bn_momentum(config, 0, 80) == pytest.approx(0.1)
    assert bn_momentum(config, 40, 80) == pytest.approx(0.01)
    assert bn_momentum(config, 80, 80) == pytest.approx(0.001)
    assert bn_momentum(config, 20, 80) == pytest.approx(0.1 * math.exp(-20 / 80 * math.log(100)))
    model = _model()
    set_bn_momentum(model, 0.05)
    assert model[1].momentum == 0.05
