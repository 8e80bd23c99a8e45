"""Test-time augmentation for prediction, through ttach."""

from __future__ import annotations

import ttach as tta
from torch import nn

from rscommon.files import InputError

# The reference's "d4" is horizontal flip x four scales (its comment: "multi-scale TTA"), not the dihedral group.
TTA_CHOICES = ("d4", "lr", "none")


def tta_transforms(mode: str) -> tta.Compose | None:
    """ttach transforms of a TTA mode: ``lr`` = h+v flips, ``d4`` = h-flip x scales 0.75..1.5, ``none``."""
    if mode == "none":
        return None
    if mode == "lr":
        return tta.Compose([tta.HorizontalFlip(), tta.VerticalFlip()])
    if mode == "d4":
        return tta.Compose(
            [
                tta.HorizontalFlip(),
                tta.Scale(scales=[0.75, 1.0, 1.25, 1.5], interpolation="bicubic", align_corners=False),
            ]
        )
    raise InputError(f"unknown test-time augmentation {mode!r}; choose one of {', '.join(TTA_CHOICES)}")


def tta_scales(mode: str) -> tuple[float, ...]:
    """The factors the TTA mode resizes images by (``(1.0,)`` for a mode that does not resize)."""
    transforms = tta_transforms(mode)
    steps = transforms.aug_transforms if transforms is not None else []
    return tuple(scale for step in steps if isinstance(step, tta.Scale) for scale in step.params) or (1.0,)


def with_tta(net: nn.Module, mode: str) -> nn.Module:
    """``net`` wrapped so that its logits are averaged over the TTA mode's transforms."""
    transforms = tta_transforms(mode)
    return net if transforms is None else tta.SegmentationTTAWrapper(net, transforms, merge_mode="mean")
