"""A synthetic tile and report for the report tests (the HTML test and the browser test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rscommon.datasets import get_dataset

SWEEP = Path(__file__).resolve().parent / "fixtures" / "sessrs_reference" / "sweep.json"
SPEC = get_dataset("potsdam")


def synthetic_tile(size: int = 40) -> dict:
    """A tile of two classes with a made-up prediction, refinement and one object."""
    rng = np.random.default_rng(1)
    gt = np.zeros((size, size), np.uint8)
    gt[:, size // 2 :] = 1
    pred = gt.copy()
    pred[:5, :5] = 2
    refined = gt.copy()
    refined[-3:, :3] = 2
    mask = np.zeros((size, size), bool)
    mask[:10, :10] = True
    return {
        "image": rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        "gt": gt,
        "pred": pred,
        "masks": [mask],
        "refined": refined,
    }


def report_of(panel: str, heatmap: dict) -> dict:
    """A one-group report whose text needs escaping, with ``panel`` and ``heatmap`` as its pictures."""
    classes = ["background", "building"]
    row = {
        "peer": "unrefined",
        "OA": 90.0,
        "mIoU": 80.5,
        "mF1": None,
        "IoU": {"background": 81.0, "building": 80.0},
        "F1": {"background": 89.5, "building": None},
    }
    refined = {**row, "peer": "sessrs", "mIoU": 82.0, "IoU": {"background": 80.25, "building": 83.75}}
    return {
        "title": "demo <test>",
        "generated_utc": "2026-01-01T00:00:00Z",
        "wall_time_s": 12.0,
        "timings_s": {"synthetic: tiles": 0.4},
        "object_source": "regions",
        "objects_meaning": "not SAM",
        "model": "a sample model",
        "model_meaning": "weak on purpose",
        "missing_weights": ["put sam_hq_vit_tiny.pth (from https://example.org/sam_hq_vit_tiny.pth) in weights/"],
        "notes": ["a & b"],
        "groups": [
            {
                "key": "synthetic",
                "label": "Synthetic",
                "dataset": "Urban",
                "classes": classes,
                "tiles": ["t"],
                "headline": [
                    {"method": "unrefined", "label": "unrefined", "reference": {"mIoU": 80.5, "OA": 90.0}},
                    {"method": "sessrs", "label": "SESSRS (per-class pick)", "reference": {"mIoU": 82.0, "OA": None}},
                ],
                "sessrs_refined": {"reference": ["building"]},
                "protocols": [
                    {
                        "key": "reference",
                        "title": "reference",
                        "description": "tune = eval",
                        "folds": [
                            {
                                "tune": ["t"],
                                "eval": ["t"],
                                "modify": ["building"],
                                "t1": {"building": 0.5},
                                "t2": {"building": 0.55},
                            }
                        ],
                        "rows": [row, refined],
                    }
                ],
                "heatmaps": [heatmap],
                "panels": [{"tile": "t", "image": panel, "changed_pixels": 3, "fixed_pixels": 2, "broken_pixels": 1}],
            }
        ],
    }
