"""Metrics agree with a direct per-class count over the pixels."""

import math

import numpy as np
import pytest

from rscommon.metrics import compute_scores, confusion_matrix


def direct_scores(gt: np.ndarray, pred: np.ndarray, classes: int, scored: list[int]) -> dict:
    """Per-class IoU/F1/recall/precision counted straight from boolean masks, and OA."""
    valid = gt < classes
    result = {"iou": [], "f1": [], "recall": [], "precision": []}
    for c in range(classes):
        tp = np.sum((gt == c) & (pred == c) & valid)
        fp = np.sum((gt != c) & (pred == c) & valid)
        fn = np.sum((gt == c) & (pred != c) & valid)
        precision = tp / (tp + fp) if tp + fp else math.nan
        recall = tp / (tp + fn) if tp + fn else math.nan
        result["iou"].append(tp / (tp + fp + fn) if tp + fp + fn else math.nan)
        result["precision"].append(precision)
        result["recall"].append(recall)
        result["f1"].append(2 * precision * recall / (precision + recall) if precision + recall else math.nan)
    result["oa"] = np.sum((gt == pred) & valid) / np.sum(valid)
    result["miou"] = np.nanmean([result["iou"][c] for c in scored])
    return result


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_match_direct_counts(seed):
    rng = np.random.default_rng(seed)
    classes = 8
    gt = rng.integers(0, classes + 2, (64, 48)).astype(np.uint8)
    pred = np.where(rng.random((64, 48)) < 0.6, np.minimum(gt, classes - 1), rng.integers(0, classes, (64, 48)))
    pred[pred == 5] = 4
    scored = [0, 1, 2, 3, 4, 5, 6]
    scores = compute_scores(confusion_matrix(gt, pred, classes), scored)
    expected = direct_scores(gt, pred, classes, scored)
    for key in ("iou", "f1", "recall", "precision"):
        np.testing.assert_allclose(getattr(scores, key), expected[key], equal_nan=True)
    assert scores.oa == pytest.approx(expected["oa"])
    assert scores.miou == pytest.approx(expected["miou"])
    assert math.isnan(scores.precision[5]) and not math.isnan(scores.miou)


def test_ignored_truth_is_not_counted():
    gt = np.array([[0, 1, 8, 255]], np.uint8)
    pred = np.array([[0, 0, 1, 1]], np.uint8)
    matrix = confusion_matrix(gt, pred, 8)
    assert matrix.sum() == 2 and matrix[0, 0] == 1 and matrix[1, 0] == 1


def test_printed_figures_are_percent_with_two_decimals():
    matrix = np.array([[2, 1], [0, 3]])
    figures = compute_scores(matrix, [0, 1]).as_dict(["a", "b"])
    assert figures["IoU"] == {"a": 66.67, "b": 75.0}
    assert figures["OA"] == 83.33
