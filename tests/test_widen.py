"""Widening a trained network (Net2Net): the wider model computes what the narrow one did."""

from __future__ import annotations

import pytest
import torch

from poselift.models.registry import create_model
from poselift.models.widen import channel_map, widen_state


def _randomise_batch_norm(model: torch.nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.normal_()
            module.bias.data.normal_()


@pytest.mark.parametrize("name", ["atcn_27f", "atcn_27f_causal", "atcn_81f", "videopose3d_27f"])
def test_a_widened_model_gives_the_narrow_models_output_in_both_modes(name):
    torch.manual_seed(0)
    narrow, wide = create_model(name, channels=16, dropout=0.0), create_model(name, channels=40, dropout=0.0)
    _randomise_batch_norm(narrow)
    wide.load_state_dict(widen_state(narrow, wide))
    windows = torch.randn(6, narrow.receptive_field, 17, 2)
    for train_mode in (False, True):
        narrow.train(train_mode)
        wide.train(train_mode)
        with torch.no_grad():
            torch.testing.assert_close(wide(windows), narrow(windows), rtol=1e-4, atol=1e-5)


def test_noise_breaks_the_copies_symmetry_but_keeps_the_output_close():
    torch.manual_seed(1)
    narrow = create_model("atcn_27f", channels=16, dropout=0.0)
    wide = create_model("atcn_27f", channels=32, dropout=0.0)
    narrow.eval(), wide.eval()
    exact, noisy = widen_state(narrow, wide), widen_state(narrow, wide, noise=0.01, seed=3)
    key = "layers.0.pointwise.weight"
    assert not torch.equal(exact[key], noisy[key])
    wide.load_state_dict(noisy)
    windows = torch.randn(4, 27, 17, 2)
    with torch.no_grad():
        gap = (wide(windows) - narrow(windows)).abs().mean() / narrow(windows).abs().mean()
    assert 0 < gap < 0.05


def test_channel_copies_stay_in_their_group_and_originals_map_to_themselves():
    source = channel_map(16, 32, groups=8, generator=torch.Generator().manual_seed(0))
    assert (source // 2 == torch.arange(32) // 4).all()  # old group of 2 -> new group of 4
    assert source.view(8, 4)[:, :2].flatten().tolist() == list(range(16))
    with pytest.raises(ValueError, match="cannot widen 32 to 16"):
        channel_map(32, 16, groups=8, generator=torch.Generator())


def test_models_that_differ_in_more_than_width_are_refused():
    with pytest.raises(ValueError, match="more than their width"):
        widen_state(create_model("atcn_27f", channels=16), create_model("atcn_81f", channels=32))
