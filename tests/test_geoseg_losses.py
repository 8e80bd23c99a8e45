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


def test_soft_cross_entropy_matches_label_smoothing_formula(batch):
    logits, labels = batch
    eps = 0.05
    log_p = np.log(softmax(logits.numpy()))
    losses = []
    for b, y, x in zip(*np.nonzero(labels.numpy() != IGNORE)):
        row = log_p[b, :, y, x]
        losses.append(-(1 - eps) * row[labels[b, y, x]] - eps / row.size * row.sum())
    loss = SoftCrossEntropyLoss(eps, IGNORE)(logits, labels)
    assert loss.item() == pytest.approx(np.mean(losses), rel=1e-9)


def test_soft_cross_entropy_of_an_all_ignored_batch_is_zero(batch):
    logits, labels = batch
    loss = SoftCrossEntropyLoss(0.05, IGNORE)(logits.requires_grad_(), torch.full_like(labels, IGNORE))
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
