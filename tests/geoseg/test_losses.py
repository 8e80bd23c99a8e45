"""GeoSeg losses checked against direct numpy computations of the reference formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geoseg.losses import AUX_WEIGHT, DiceLoss, SoftCrossEntropyLoss, UNetFormerLoss, ce_dice_loss

IGNORE = 4


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 5, 6, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 5, (2, 5, 6), generator=generator)  # 4 = ignore
    labels[0, 0, :3] = IGNORE
    return logits, labels


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def per_pixel_smoothed_ce(logits: torch.Tensor, labels: torch.Tensor, eps: float) -> np.ndarray:
    """The label-smoothed cross-entropy of every pixel (0 where the label is ignored)."""
    log_p = np.log(softmax(logits.numpy()))
    losses = np.zeros(labels.shape)
    for b, y, x in zip(*np.nonzero(labels.numpy() != IGNORE)):
        row = log_p[b, :, y, x]
        losses[b, y, x] = -(1 - eps) * row[labels[b, y, x]] - eps / row.size * row.sum()
    return losses


def reference_soft_ce(logits: torch.Tensor, labels: torch.Tensor, eps: float, ignore: int) -> float:
    """The reference's ``label_smoothed_nll_loss`` (segmentation_models_pytorch's), re-implemented: the NLL and the
    smoothing term are zeroed at ignored pixels and each is averaged over ALL pixels."""
    log_p = np.log(softmax(logits.numpy()))
    target = labels.numpy()
    pad = target == ignore
    nll = -np.take_along_axis(log_p, np.where(pad, 0, target)[:, None], axis=1)[:, 0]
    smooth = -log_p.sum(axis=1)
    nll[pad], smooth[pad] = 0.0, 0.0
    return (1 - eps) * nll.mean() + eps / log_p.shape[1] * smooth.mean()


def test_soft_cross_entropy_averages_over_all_pixels_like_the_reference(batch):
    logits, labels = batch
    assert (labels == IGNORE).sum() > 3, "the constructed batch must have ignored pixels"
    loss = SoftCrossEntropyLoss(0.05, IGNORE)(logits, labels)  # the default: the reference's averaging
    assert loss.item() == pytest.approx(reference_soft_ce(logits, labels, 0.05, IGNORE), rel=1e-9)
    assert loss.item() == pytest.approx(per_pixel_smoothed_ce(logits, labels, 0.05).mean(), rel=1e-9)


def test_soft_cross_entropy_valid_average_is_the_corrected_mean(batch):
    logits, labels = batch
    valid = (labels != IGNORE).numpy()
    loss = SoftCrossEntropyLoss(0.05, IGNORE, average="valid")(logits, labels)
    assert loss.item() == pytest.approx(per_pixel_smoothed_ce(logits, labels, 0.05)[valid].mean(), rel=1e-9)
    reference = SoftCrossEntropyLoss(0.05, IGNORE)(logits, labels)
    assert loss.item() == pytest.approx(reference.item() * valid.size / valid.sum(), rel=1e-9)
    no_ignored = labels.clamp(max=IGNORE - 1)
    assert SoftCrossEntropyLoss(0.05, IGNORE, "valid")(logits, no_ignored).item() == pytest.approx(
        SoftCrossEntropyLoss(0.05, IGNORE, "all")(logits, no_ignored).item(), rel=1e-12
    )
    with pytest.raises(ValueError, match="valid"):
        SoftCrossEntropyLoss(0.05, IGNORE, average="pixels")


@pytest.mark.parametrize("average", ["all", "valid"])
def test_soft_cross_entropy_of_an_all_ignored_batch_is_zero(batch, average):
    logits, labels = batch
    loss = SoftCrossEntropyLoss(0.05, IGNORE, average)(logits.requires_grad_(), torch.full_like(labels, IGNORE))
    assert loss.item() == 0.0
    loss.backward()


def test_dice_matches_per_class_formula(batch):
    logits, labels = batch
    smooth, num_classes = 0.05, logits.shape[1]
    probs = softmax(logits.numpy())
    valid = labels.numpy() != IGNORE
    terms = []
    for c in range(num_classes):
        p = probs[:, c][valid]
        t = (labels.numpy()[valid] == c).astype(float)
        dice = (2 * (p * t).sum() + smooth) / max(p.sum() + t.sum() + smooth, 1e-7)
        terms.append((1 - dice) if t.sum() > 0 else 0.0)
    loss = DiceLoss(smooth, IGNORE)(logits, labels)
    assert loss.item() == pytest.approx(np.mean(terms), rel=1e-6)


def test_dice_is_near_zero_for_a_confident_correct_prediction():
    labels = torch.randint(0, 3, (1, 8, 8), generator=torch.Generator().manual_seed(1))
    logits = 50.0 * torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).double()
    assert DiceLoss(0.05)(logits, labels).item() < 1e-6
    assert DiceLoss(0.05)(-logits, labels).item() > 0.9


def test_unetformer_loss_adds_the_auxiliary_head(batch):
    logits, labels = batch
    aux = logits.flip(-1)
    main_only = ce_dice_loss(IGNORE)(logits, labels)
    combined = UNetFormerLoss(IGNORE)((logits, aux), labels)
    expected = main_only + AUX_WEIGHT * SoftCrossEntropyLoss(0.05, IGNORE)(aux, labels)
    assert combined.item() == pytest.approx(expected.item(), rel=1e-12)
    assert UNetFormerLoss(IGNORE)(logits, labels).item() == pytest.approx(main_only.item(), rel=1e-12)
    corrected = UNetFormerLoss(IGNORE, ce_average="valid")
    assert corrected.main_loss.first.average == corrected.aux_loss.average == "valid"
