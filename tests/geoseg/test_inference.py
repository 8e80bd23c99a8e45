"""Test-time augmentation, colour label maps and checkpoint loading, on tiny stand-in networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from geoseg.checkpoint import load_net_weights
from geoseg.inference import tta_transforms, with_tta
from rscommon.datasets import get_dataset
from rscommon.labels import labels_to_rgb, write_rgb_png


class PixelNet(nn.Module):
    """A per-pixel 1x1 convolution: commutes with flips, so flip TTA must give the plain output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class LeftEdgeNet(nn.Module):
    """Marks the leftmost column: a flipped view disagrees, so flip TTA changes the output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(x.shape[0], 2, *x.shape[2:])
        out[:, 1, :, 0] = 1.0
        return out


@pytest.mark.parametrize("mode", ["lr", "d4"])
def test_tta_keeps_equivariant_outputs_and_averages_the_rest(mode):
    torch.manual_seed(0)
    x = torch.rand(1, 3, 1, 1).expand(1, 3, 16, 16).contiguous()  # flat image: scaling leaves it unchanged
    net = PixelNet().eval()
    with torch.no_grad():
        assert torch.allclose(with_tta(net, mode)(x), net(x), atol=1e-5)
        edge = with_tta(LeftEdgeNet(), mode)(x)
    assert edge.shape == (1, 2, 16, 16)
    assert edge[0, 1, :, 0].max() < 1.0 and edge[0, 1, :, -1].max() > 0.0


def test_tta_none_is_the_net_itself_and_unknown_modes_fail():
    net = PixelNet()
    assert with_tta(net, "none") is net and tta_transforms("none") is None
    with pytest.raises(ValueError, match="d4"):
        tta_transforms("d8")


def test_rgb_label_png_uses_the_palette(tmp_path):
    spec = get_dataset("potsdam")
    labels = np.array([[0, 1], [5, 6]], dtype=np.uint8)
    write_rgb_png(tmp_path / "x.png", labels, spec)
    with Image.open(tmp_path / "x.png") as image:
        rgb = np.array(image)
    assert image.mode == "RGB"
    np.testing.assert_array_equal(rgb, labels_to_rgb(labels, spec))
    assert tuple(rgb[1, 0]) == spec.palette[5] and tuple(rgb[1, 1]) == (0, 0, 0)


def test_checkpoint_loading_strips_the_lightning_prefix(tmp_path):
    source, target = PixelNet(), PixelNet()
    state = {f"net.{k}": v for k, v in source.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "model.ckpt")
    load_net_weights(target, tmp_path / "model.ckpt")
    assert torch.equal(target.conv.weight, source.conv.weight)
    torch.save({"state_dict": {"net.other.weight": torch.zeros(1)}}, tmp_path / "bad.ckpt")
    with pytest.raises(ValueError, match="bad.ckpt"):
        load_net_weights(target, tmp_path / "bad.ckpt")
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        load_net_weights(target, tmp_path / "missing.ckpt")
