"""The reference's segmentation losses: label-smoothed cross-entropy + soft Dice, and UNetFormer's auxiliary term."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rscommon.files import InputError

AUX_WEIGHT = 0.4
# Cross-entropy averages: over all pixels with ignored ones as zero (the reference) or over valid pixels.
CE_AVERAGES = ("all", "valid")


class SoftCrossEntropyLoss(nn.Module):
    """Cross-entropy with label smoothing ``smooth_factor`` (torch's own), ignoring ``ignore_index`` pixels.

    ``average="all"`` (the reference's, its copy of segmentation_models_pytorch): the sum over the valid pixels
    divided by ALL pixels, ignored ones counting as zero, so batches with many ignored pixels weigh less.
    ``average="valid"``: the mean over the valid pixels (torch's ``reduction="mean"``). The two agree when no
    pixel is ignored. A batch with no valid pixel gives 0 either way, not NaN.
    """

    def __init__(self, smooth_factor: float = 0.05, ignore_index: int = -100, average: str = "all"):
        super().__init__()
        if average not in CE_AVERAGES:
            raise InputError(f"unknown cross-entropy average {average!r}; choose one of {', '.join(CE_AVERAGES)}")
        self.smooth_factor = smooth_factor
        self.ignore_index = ignore_index
        self.average = average

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if bool((labels == self.ignore_index).all()):
            return logits.sum() * 0.0
        if self.average == "valid":
            return F.cross_entropy(logits, labels, ignore_index=self.ignore_index, label_smoothing=self.smooth_factor)
        total = F.cross_entropy(
            logits, labels, ignore_index=self.ignore_index, label_smoothing=self.smooth_factor, reduction="sum"
        )
        return total / labels.numel()


class DiceLoss(nn.Module):
    """Multi-class soft Dice on softmax probabilities, as segmentation_models_pytorch computes it.

    Per class c over the whole batch: ``1 - (2 sum(p*t) + smooth) / max(sum(p + t) + smooth, eps)``; classes
    absent from the targets contribute 0 but still count in the mean over classes. Ignored pixels are
    removed from both probabilities and targets.
    """

    def __init__(self, smooth: float = 0.05, ignore_index: int | None = None, eps: float = 1e-7):
        super().__init__()
        self.smooth = smooth
        self.ignore_index = ignore_index
        self.eps = eps

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        num_classes = logits.shape[1]
        probs = logits.float().softmax(dim=1).flatten(2)  # B, C, N
        labels = labels.flatten(1)  # B, N
        valid = torch.ones_like(labels, dtype=torch.bool)
        if self.ignore_index is not None:
            valid = labels != self.ignore_index
        targets = F.one_hot(torch.where(valid, labels, 0), num_classes).permute(0, 2, 1).to(probs.dtype)
        weight = valid.unsqueeze(1).to(probs.dtype)
        probs, targets = probs * weight, targets * weight
        intersection = (probs * targets).sum(dim=(0, 2))
        cardinality = (probs + targets).sum(dim=(0, 2))
        dice = (2.0 * intersection + self.smooth) / (cardinality + self.smooth).clamp_min(self.eps)
        present = targets.sum(dim=(0, 2)) > 0
        return ((1.0 - dice) * present.to(dice.dtype)).mean()


class JointLoss(nn.Module):
    """``first_weight * first + second_weight * second``."""

    def __init__(self, first: nn.Module, second: nn.Module, first_weight: float = 1.0, second_weight: float = 1.0):
        super().__init__()
        self.first, self.second = first, second
        self.first_weight, self.second_weight = first_weight, second_weight

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.first_weight * self.first(logits, labels) + self.second_weight * self.second(logits, labels)


def ce_dice_loss(ignore_index: int, smooth: float = 0.05, ce_average: str = "all") -> JointLoss:
    """The reference's main loss: SoftCE (smoothing 0.05, averaged as ``ce_average``) + Dice (smooth 0.05)."""
    return JointLoss(SoftCrossEntropyLoss(smooth, ignore_index, ce_average), DiceLoss(smooth, ignore_index))


class UNetFormerLoss(nn.Module):
    """CE+Dice on the main output, plus ``AUX_WEIGHT`` x SoftCE on the auxiliary head when the net returns it.

    The net returns ``(main, aux)`` in training mode and a single tensor in eval mode.
    """

    def __init__(self, ignore_index: int, aux_weight: float = AUX_WEIGHT, ce_average: str = "all"):
        super().__init__()
        self.main_loss = ce_dice_loss(ignore_index, ce_average=ce_average)
        self.aux_loss = SoftCrossEntropyLoss(0.05, ignore_index, ce_average)
        self.aux_weight = aux_weight

    def forward(self, logits: torch.Tensor | tuple[torch.Tensor, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        if isinstance(logits, (tuple, list)):
            main, aux = logits
            return self.main_loss(main, labels) + self.aux_weight * self.aux_loss(aux, labels)
        return self.main_loss(logits, labels)
