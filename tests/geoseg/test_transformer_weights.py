"""Pretrained-weight loading and input handling of UNetFormer, the Swin models (DCSwin/FTUNetFormer) and SwinUNet.

The checkpoints here are fakes written to a temporary ``weights/`` folder from randomly initialised networks
with the key layout of the official files, so the tests check which entries are loaded where.
"""

from __future__ import annotations

import pytest
import timm
import torch

from geoseg.models.dcswin import dcswin_tiny
from geoseg.models.swinunet import SwinTransformerSys, swin_unet
from geoseg.models.unetformer import UNetFormer


@pytest.fixture(autouse=True)
def _weights_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SESSRS_WEIGHTS", str(tmp_path))
    torch.manual_seed(0)


def test_unetformer_reads_the_timm_resnet18_checkpoint(tmp_path):
    """``semi_weakly_supervised_resnet18-118f1556.pth`` (a plain ResNet-18 state_dict) fills the encoder."""
    resnet = timm.create_model("resnet18", pretrained=False)
    torch.save(resnet.state_dict(), tmp_path / "semi_weakly_supervised_resnet18-118f1556.pth")
    model = UNetFormer(num_classes=8, pretrained=True)  # pytest turns any warning into a failure
    assert torch.equal(model.backbone.conv1.weight, resnet.conv1.weight)
    assert torch.equal(model.backbone.layer4[1].bn2.running_var, resnet.layer4[1].bn2.running_var)


def test_swin_segmentation_checkpoint_fills_the_backbone_only(tmp_path):
    """``stseg_tiny.pth``'s ``state_dict`` loads by name: ``backbone.*`` is taken, the UperNet head ignored."""
    source = dcswin_tiny(pretrained=False, num_classes=8).state_dict()
    backbone = {k: v for k, v in source.items() if k.startswith("backbone.")}
    head = {"decode_head.conv_seg.weight": torch.zeros(150, 512, 1, 1)}
    torch.save({"meta": {}, "state_dict": {**backbone, **head}}, tmp_path / "stseg_tiny.pth")
    model = dcswin_tiny(pretrained=True, num_classes=8)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in backbone.items())
    assert not torch.equal(loaded["decoder.up.0.0.weight"], source["decoder.up.0.0.weight"])


def test_swin_unet_mirrors_encoder_weights_into_the_decoder(tmp_path):
    """The Swin-T classifier checkpoint fills encoder stages and the mirrored decoder stages; entries of another
    window size (bias tables) are skipped."""
    classifier = SwinTransformerSys(img_size=224, num_classes=1000, depths=(2, 2, 6, 2), window_size=7)
    encoder = {k: v for k, v in classifier.state_dict().items() if k.startswith(("patch_embed.", "layers.", "norm."))}
    torch.save({"model": encoder}, tmp_path / "swin_tiny_patch4_window7_224.pth")
    model = swin_unet(img_size=128, num_classes=8, window_size=8, pretrained=True).swin_unet
    qkv = encoder["layers.0.blocks.1.attn.qkv.weight"]
    assert torch.equal(model.layers[0].blocks[1].attn.qkv.weight, qkv)
    assert torch.equal(model.layers_up[3].blocks[1].attn.qkv.weight, qkv)
    assert torch.equal(model.layers[2].downsample.reduction.weight, encoder["layers.2.downsample.reduction.weight"])
    assert model.layers[0].blocks[0].attn.relative_position_bias_table.shape == (15 * 15, 3)


def test_swin_unet_rejects_other_input_sizes():
    """SwinUNet is built for one input size and says so for any other."""
    model = swin_unet(img_size=128, num_classes=8, window_size=8, pretrained=False).eval()
    with torch.no_grad(), pytest.raises(ValueError, match="128x128"):
        model(torch.zeros(1, 3, 160, 160))


def test_dcswin_accepts_non_square_inputs():
    """The DCFAM attention keeps height and width apart (the reference reshapes them swapped)."""
    model = dcswin_tiny(pretrained=False, num_classes=8).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 128, 192))
    assert out.shape == (1, 8, 128, 192)
