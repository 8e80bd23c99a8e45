"""The report's content for one sample set and for the whole run: tables, thresholds, heatmaps, tile panels, and
what the reader needs to know first (objects, model, missing weights)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.labels import read_label_png
from rspipeline.report import HEADLINE_FIGURES, heatmap_from_sweep, save_tile_panel
from sessrs.folders import RefinedFolder, SweepFolder
from sessrs.voting import MAJORITY_SHARE

from .objects import ObjectChoice
from .protocols import PROTOCOLS
from .samples import SampleSet, Workspace
from .scores import METHOD_LABELS, load_tile, scores_row
from .settings import DemoSettings


def tile_panels(
    tiles: Iterable[str], work: Workspace, refined: RefinedFolder, spec: DatasetSpec, out: Path, prefix: str
) -> list[dict]:
    """One panel per tile with its SESSRS map from ``refined``; image paths relative to ``out``."""
    panels = []
    for name in tiles:
        tile, gt = load_tile(work, name, spec)
        relative = f"panels/{prefix}_{name}.png"
        masks = [tile.masks[..., i] for i in range(tile.masks.shape[2])]
        counts = save_tile_panel(
            out / relative, tile.image, gt, tile.pred, masks, read_label_png(refined.refined_map(name), spec), spec
        )
        panels.append({"tile": name, "image": relative, **counts})
    return panels


def heatmaps(sweep: dict, folder: SweepFolder, spec: DatasetSpec, out: Path) -> list[dict]:
    """The sweep's t1 x t2 grids per class, with the sweep's own heatmap PNG when it wrote one."""
    grids = []
    for key in sweep["sweeps"]:
        name = spec.classes[int(key)]
        picture = folder.heatmap(int(key), name)
        relative = picture.relative_to(out).as_posix() if picture.is_file() else None
        grids.append(heatmap_from_sweep(sweep, int(key), name, image=relative))
    return grids


def protocol_tables(
    matrices: dict[str, dict[str, np.ndarray]], folds: dict[str, list[dict]], spec: DatasetSpec
) -> list[dict]:
    """Per protocol its title, description, picked thresholds per fold and one row of figures per method."""
    return [
        {
            "key": key,
            "title": PROTOCOLS[key].title,
            "description": PROTOCOLS[key].description,
            "folds": folds[key],
            "rows": [scores_row(method, matrix, spec) for method, matrix in per_method.items()],
        }
        for key, per_method in matrices.items()
    ]


def headline(protocols: Sequence[dict]) -> list[dict]:
    """The answer first: per method its mIoU and OA under each protocol."""
    rows: dict[str, dict] = {}
    for protocol in protocols:
        for row in protocol["rows"]:
            entry = rows.setdefault(row["peer"], {"method": row["peer"], "label": METHOD_LABELS[row["peer"]]})
            entry[protocol["key"]] = {figure: row[figure] for figure in HEADLINE_FIGURES}
    return list(rows.values())


def refined_classes(protocols: Sequence[dict], classes: Sequence[str]) -> dict[str, list[str]]:
    """Per protocol the classes that SESSRS refined in any of its folds, in class order (empty: it changed
    nothing, as no threshold pair beat the unrefined prediction within the pick's t1 limit)."""
    return {p["key"]: [c for c in classes if any(c in fold["modify"] for fold in p["folds"])] for p in protocols}


def set_group(
    sample: SampleSet, tiles: Sequence[str], protocols: list[dict], grids: list[dict], panels: list[dict]
) -> dict:
    """The report's section of one sample set."""
    spec = sample.spec
    return {
        "key": sample.key,
        "label": sample.label,
        "dataset": spec.name,
        "classes": [spec.classes[c] for c in spec.scored],
        "tiles": list(tiles),
        "headline": headline(protocols),
        "sessrs_refined": refined_classes(protocols, spec.classes),
        "protocols": protocols,
        "heatmaps": grids,
        "panels": panels,
    }


def model_description(settings: DemoSettings, reused: bool) -> tuple[str, str]:
    """Which predictions were refined, and what that means for the figures."""
    length = f"for {settings.train_epochs} epoch(s)" if settings.train_epochs else "briefly"
    batches = f", {settings.train_batches} batch(es) per epoch" if settings.train_batches else ""
    model = (
        f"GeoSeg's sample UNetFormer (GeoSeg/config/sample/), trained {length}{batches} on CPU on the same "
        f"tiles it then predicts" + ("; the checkpoint of an earlier run in this folder was reused" if reused else "")
    )
    meaning = (
        "A small model trained for minutes: its predictions are far from the paper's, so the tables show "
        "how each method changes a weak prediction, not the accuracy the paper reports."
    )
    return model, meaning


def details_notes(settings: DemoSettings) -> list[str]:
    """How the methods were run and how to read the figures."""
    notes = [
        f"Methods: SSA's rule (Semantic Segment Anything's own inference, no threshold and no labels) paints every "
        f"object, largest first, with the class the unrefined prediction gives most of its pixels, so smaller objects "
        f"paint over larger ones; majority vote (t={MAJORITY_SHARE}) does the same but paints an object only when "
        f"that class covers more than {MAJORITY_SHARE} of it; DenseCRF (pydensecrf2) uses the prediction as a "
        f"0.7-confidence unary with the default Gaussian and bilateral terms. SESSRS per-class pick: the thresholds "
        f"picked per class from the t1 x t2 sweep, as the reference does; joint search: all classes' thresholds "
        f"searched together on the tuning tiles, starting from that pick (get_best_t1_t2.py --search joint); "
        f"improved mode: the per-class pick of a sweep with every quirk of the reference fixed (--mode improved). "
        f"Each applies its thresholds with max_objects {settings.max_objects} (threshold mode {settings.pick_mode}).",
        "Means as the reference computes them: mIoU, mF1 and mPA ignore undefined classes (n/a), so a class that a "
        "method stops predicting altogether drops out of mF1; mIoU and OA are the figures to compare.",
    ]
    if settings.crop:
        notes.append(
            f"Cut-down run: tiles cropped to {settings.crop} x {settings.crop} "
            f"({settings.crops_per_tile} per tile), predictions cropped from the full-tile prediction."
        )
    return notes


def report_top(settings: DemoSettings, objects: ObjectChoice, reused_model: bool) -> dict:
    """What the reader needs first: the object source and the model, what they mean, and missing weights."""
    model, model_meaning = model_description(settings, reused_model)
    return {
        "object_source": objects.description,
        "objects_meaning": objects.meaning,
        "model": model,
        "model_meaning": model_meaning,
        "missing_weights": [objects.missing] if objects.missing else [],
        "notes": details_notes(settings),
    }
