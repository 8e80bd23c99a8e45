"""How the demo tunes SESSRS: the evaluation protocols, their folds, and the SESSRS stage's sweep, pick and apply.

``reference`` sweeps and picks on the very tiles it reports (as the paper's scripts do); ``held_out`` is
leave-one-tile-out: each tile is refined with thresholds swept and picked on the other tiles of its set only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rscommon.datasets import DatasetSpec
from sessrs.inputs import Sample, select
from sessrs.pick import pick_and_apply
from sessrs.sweep import run_sweep
from sessrs.thresholds import Thresholds

from .settings import DemoSettings

REFINED_FOLDER = "se_mask"


@dataclass(frozen=True)
class Protocol:
    """How thresholds are tuned, as the report titles and explains it."""

    key: str
    title: str
    description: str


PROTOCOLS = {
    p.key: p
    for p in (
        Protocol("reference", "Reference protocol (thresholds tuned on the reported tiles)",
                 "Thresholds swept and picked on the same tiles that are reported, as the paper's scripts do."),
        Protocol("held_out", "Held-out protocol (leave one tile out)",
                 "Each tile is refined with thresholds swept and picked on the other tiles of its set only; the "
                 "per-tile confusion matrices are pooled. Unrefined, majority vote and DenseCRF tune nothing, so "
                 "their rows equal the reference protocol's."),
    )
}


@dataclass(frozen=True)
class Fold:
    """Thresholds are swept and picked on ``tune`` and applied to ``evaluate``."""

    name: str
    tune: tuple[str, ...]
    evaluate: tuple[str, ...]


def protocol_folds(tiles: Sequence[str]) -> dict[str, list[Fold]]:
    """The reference fold (tune = evaluate = all tiles) and, with two tiles or more, leave-one-tile-out folds."""
    folds = {"reference": [Fold("all", tuple(tiles), tuple(tiles))]}
    if len(tiles) > 1:
        folds["held_out"] = [Fold(f"without_{t}", tuple(o for o in tiles if o != t), (t,)) for t in tiles]
    return folds


def tune_and_apply(fold: Fold, samples: list[Sample], spec: DatasetSpec, out: Path, settings: DemoSettings) -> dict:
    """Sweep on the fold's tuning tiles, pick per class, and refine its evaluation tiles (the SESSRS stage's API).

    ``out`` receives ``sweep/`` (sweep.json, heatmaps), ``best.json``, ``metrics.json`` and the refined maps in
    ``se_mask/``; these maps are the SESSRS rows of the report. Returns the sweep and the pick."""
    # The SESSRS stage's joint t1/t2 search and its improved mode are to be compared here too, each as its own
    # row beside the per-class pick, once the stage offers them.
    tune, evaluate = (select(samples, names, f"fold {fold.name}") for names in (fold.tune, fold.evaluate))
    sweep = run_sweep(tune, spec, out / "sweep", workers=settings.workers)
    applied = pick_and_apply(
        out / "sweep" / "sweep.json", evaluate, spec, out, out / REFINED_FOLDER,
        mode=settings.pick_mode, max_objects=settings.max_objects, workers=settings.workers,
    )
    return {"sweep": sweep, "best": applied.thresholds}


def fold_summary(fold: Fold, best: Thresholds, spec: DatasetSpec) -> dict:
    """The fold's tiles and picked thresholds by class name, for the report."""
    return {"name": fold.name, "tune": list(fold.tune), "eval": list(fold.evaluate), **best.by_class_name(spec)}
