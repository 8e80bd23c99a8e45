"""Confusion matrix and the per-class scores the reference reports (IoU, F1, recall, precision, OA)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Count pixels by (ground truth, prediction); pixels whose ground truth is outside [0, C) are ignored."""
    gt = np.asarray(gt).ravel().astype(np.int64)
    pred = np.asarray(pred).ravel().astype(np.int64)
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth has {gt.size} pixels, prediction {pred.size}")
    keep = (gt >= 0) & (gt < num_classes)
    if np.any((pred[keep] < 0) | (pred[keep] >= num_classes)):
        raise ValueError(f"prediction holds class values outside [0, {num_classes})")
    counts = np.bincount(num_classes * gt[keep] + pred[keep], minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


@dataclass(frozen=True)
class Scores:
    """Per-class scores (fractions, NaN where undefined) and their means over the scored classes."""

    iou: np.ndarray
    f1: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    scored: tuple[int, ...]
    oa: float

    @property
    def miou(self) -> float:
        return _nanmean(self.iou[list(self.scored)])

    @property
    def mf1(self) -> float:
        return _nanmean(self.f1[list(self.scored)])

    @property
    def mpa(self) -> float:
        return _nanmean(self.recall[list(self.scored)])

    def as_dict(self, class_names: tuple[str, ...] | list[str]) -> dict:
        """Figures x100 rounded to 2 decimals, as the reference prints them."""
        return {
            "mIoU": percent(self.miou),
            "mF1": percent(self.mf1),
            "mPA": percent(self.mpa),
            "OA": percent(self.oa),
            "IoU": {class_names[c]: percent(self.iou[c]) for c in self.scored},
        }

    def per_class(self, class_names: tuple[str, ...] | list[str]) -> dict:
        """IoU, F1, recall and precision of every scored class, x100 rounded to 2 decimals."""
        return {
            class_names[c]: {
                "IoU": percent(self.iou[c]),
                "F1": percent(self.f1[c]),
                "recall": percent(self.recall[c]),
                "precision": percent(self.precision[c]),
            }
            for c in self.scored
        }


def compute_scores(cm: np.ndarray, scored: tuple[int, ...] | list[int]) -> Scores:
    """Scores of a confusion matrix (rows ground truth, columns prediction)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        f1 = 2.0 * precision * recall / (precision + recall)
        iou = tp / (tp + fp + fn)
    total = cm.sum()
    oa = float(tp.sum() / total) if total else float("nan")
    return Scores(iou=iou, f1=f1, recall=recall, precision=precision, scored=tuple(scored), oa=oa)


def percent(value: float) -> float:
    """x100 rounded to 2 decimals; NaN stays NaN."""
    return round(float(value) * 100, 2)


def _nanmean(values: np.ndarray) -> float:
    if np.all(np.isnan(values)):
        return float("nan")
    return float(np.nanmean(values))
