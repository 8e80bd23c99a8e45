"""Each network's input rule says what the network really takes: sides it accepts run, sides it refuses fail inside
the network when the check is switched off; training and prediction check crops, batches and images (at each
test-time scale) against it and name the file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from geoseg.inference import tta_scales
from geoseg.input_checks import check_images, check_training, padded_side
from geoseg.models.input_size import InputRule, window_minimum
from geoseg.models.segformer import SegFormer
from geoseg.recipes import MODELS
from rscommon.files import InputError

# (accepted sides, refused sides) per network; the heavy Swin ones are covered by the same rule kinds
SIDES = {
    "unetformer": ([160, (160, 320), 192], [128, 176, 200]),
    "abcnet": ([32, (32, 64)], [48, 100]),
    "shelfnet": ([32, (64, 32)], [48]),
    "fanet": ([64, (64, 128)], [32, 96]),
    "manet": ([32, (32, 64)], [48, 100]),
    "segformer": ([29, (29, 300), 33], [28, (28, 300)]),
}


class Net(torch.nn.Module):
    """A stand-in network with a given rule (the check reads nothing else)."""

    def __init__(self, rule: InputRule) -> None:
        super().__init__()
        self.input_rule = rule


def build(name: str) -> torch.nn.Module:
    entry = MODELS[name]
    return entry.constructor(**{**entry.kwargs(8), "pretrained": False}).eval()


def batch(side: int | tuple[int, int]) -> torch.Tensor:
    height, width = (side, side) if isinstance(side, int) else side
    return torch.zeros(1, 3, height, width)


@pytest.mark.slow
@pytest.mark.parametrize("name", SIDES)
def test_the_rule_is_what_the_network_takes(name, monkeypatch):
    net = build(name)
    accepted, refused = SIDES[name]
    with torch.no_grad():
        for side in accepted:
            x = batch(side)
            assert net.input_rule.problem(x) is None, side
            assert net(x).shape == (1, 8, *x.shape[-2:])
        for side in refused:
            x = batch(side)
            with pytest.raises(ValueError, match=f"{type(net).__name__} takes sides"):
                net(x)
        monkeypatch.setattr(InputRule, "require", lambda self, x, model_name: None)
        for side in refused:
            with pytest.raises((RuntimeError, ValueError)):  # the network itself fails: the refusal is needed
                net(batch(side))


def test_bands_and_values_are_checked():
    rule = Net(InputRule(multiple=32, minimum=window_minimum(8))).input_rule
    assert window_minimum(8) == 160 and build("unetformer").input_rule == rule
    assert "takes 3 bands, not 4" in rule.problem(torch.zeros(1, 4, 160, 160))
    assert "takes float values, not torch.uint8" in rule.problem(torch.zeros(1, 3, 160, 160, dtype=torch.uint8))
    assert InputRule(exact=160).problem(torch.zeros(1, 3, 160, 160)) is None
    assert "takes 1024x1024 images only, not 512x512" in InputRule(exact=1024).side_problem(512, 512)


def test_training_refuses_crops_and_batches_the_network_cannot_take(tmp_path):
    net = build("abcnet")
    check_training(net, tmp_path / "c.py", crop_size=64, batch_size=2)
    with pytest.raises(InputError, match=r"c.py: crop_size 80: ABCNet takes sides that are multiples of 32 px"):
        check_training(net, tmp_path / "c.py", crop_size=80, batch_size=2)
    with pytest.raises(InputError, match=r"c.py: train_batch_size 1: ABCNet trains on batches of at least 2"):
        check_training(net, tmp_path / "c.py", crop_size=64, batch_size=1)
    net.train()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):  # why batches of 2
        net(batch(64))


def test_prediction_checks_every_test_time_scale(tmp_path):
    assert tta_scales("d4") == (0.75, 1.0, 1.25, 1.5) and tta_scales("lr") == tta_scales("none") == (1.0,)
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((160, 160, 3), np.uint8)).save(image)
    unetformer = Net(InputRule(multiple=32, minimum=window_minimum(8)))  # UNetFormer's
    check_images(unetformer, [image], tta_scales("none"))
    with pytest.raises(
        InputError,
        match=r"a.png: 160x160 image scaled by 0.75 \(test-time augmentation\): "
        r"Net takes sides that are multiples of 32 px, not 120x120",
    ):
        check_images(unetformer, [image], tta_scales("d4"))
    odd = tmp_path / "odd.png"
    Image.fromarray(np.zeros((101, 101, 3), np.uint8)).save(odd)
    with pytest.raises(InputError, match=r"odd.png: 101x101 image scaled by 0.75 .*: its label map comes back 100x100"):
        check_images(Net(SegFormer.input_rule), [odd], tta_scales("d4"))
    check_images(torch.nn.Conv2d(3, 8, 3), [odd], tta_scales("d4"))  # a network without a rule is not checked


def test_a_side_is_padded_to_what_the_network_takes_at_every_scale():
    unetformer = InputRule(multiple=32, minimum=window_minimum(8))
    assert padded_side(unetformer, 100) == 160 and padded_side(unetformer, 300) == 320
    assert padded_side(unetformer, 300, tta_scales("d4")) == 384  # 288 at 0.75 and 480 at 1.25: multiples of 32
    assert padded_side(InputRule(exact=1024), 300) == 1024
    with pytest.raises(InputError, match=r"no side of 2000 px .* \(at most 1024 px\)"):
        padded_side(InputRule(exact=1024), 2000)
