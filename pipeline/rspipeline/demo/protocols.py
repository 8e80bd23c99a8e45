"""How the demo tunes SESSRS: the evaluation protocols, their folds, and the SESSRS stage's sweep, pick and apply.

``reference`` sweeps and picks on the very tiles it reports (as the paper's scripts do); ``held_out`` is
leave-one-tile-out: each tile is refined with thresholds swept and picked on the other tiles of its set only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rscommon.datasets import DatasetSpec
from rscommon.parallel import Execution
from sessrs.choose import ChoiceSettings, choose_and_apply
from sessrs.folders import ChoiceFolder, SweepFolder
from sessrs.inputs import Sample, select
from sessrs.modes import RefineOptions
from sessrs.sweep import run_sweep
from sessrs.thresholds import Thresholds

from .settings import DemoSettings


@dataclass(frozen=True)
class Protocol:
    """How thresholds are tuned, as the report titles and explains it."""

    key: str
    title: str
    description: str


PROTOCOLS = {
    p.key: p
    for p in (
        Protocol(
            "reference",
            "Reference protocol (thresholds tuned on the reported tiles)",
            "Thresholds swept and picked on the same tiles that are reported, as the paper's scripts do.",
        ),
        Protocol(
            "held_out",
            "Held-out protocol (leave one tile out)",
            "Each tile is refined with thresholds swept and picked on the other tiles of its set only; the "
            "per-tile confusion matrices are pooled. Unrefined, SSA's rule, majority vote and DenseCRF tune "
            "nothing, so their rows equal the reference protocol's.",
        ),
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


@dataclass(frozen=True)
class Variant:
    """One way of tuning SESSRS, a row of the tables: the per-class pick or the joint search, in the faithful or
    the improved mode. Its outputs go to ``folder`` under the fold (``best.json``, ``metrics.json``, ``se_mask/``);
    its sweep, one per mode, to ``sweep_folder``."""

    key: str
    label: str
    search: str
    mode: str
    folder: str

    @property
    def sweep_folder(self) -> str:
        return "sweep" if self.mode == "faithful" else f"sweep_{self.mode}"


SESSRS_VARIANTS = (
    Variant("sessrs", "SESSRS per-class pick", "pick", "faithful", "."),
    Variant("sessrs_joint", "SESSRS joint search", "joint", "faithful", "joint"),
    Variant("sessrs_improved", "SESSRS improved mode", "pick", "improved", "improved"),
)


def tune_and_apply(
    fold: Fold,
    samples: list[Sample],
    spec: DatasetSpec,
    out: Path,
    settings: DemoSettings,
    variant: Variant,
    *,
    heatmaps: bool = True,
) -> dict:
    """Sweep on the fold's tuning tiles, choose thresholds as ``variant`` says, and refine the fold's evaluation
    tiles with them (the SESSRS stage's own API). ``heatmaps``: whether the sweep draws its heatmaps.

    The sweep goes to ``out/<variant.sweep_folder>/`` (sweep.json, heatmaps; resumed when there), the rest to
    ``out/<variant.folder>/``: ``best.json``, ``metrics.json`` and the refined maps in ``se_mask/``, which are the
    variant's rows of the report. Returns the sweep and the thresholds."""
    tune, evaluate = (select(samples, names, f"fold {fold.name}") for names in (fold.tune, fold.evaluate))
    options = RefineOptions.for_mode(variant.mode)
    execution = Execution(settings.workers)
    sweep_folder = variant_sweep(out, variant)
    sweep = run_sweep(tune, spec, sweep_folder, options=options, execution=execution, heatmaps=heatmaps)
    choice = ChoiceSettings(
        search=variant.search, threshold_mode=settings.pick_mode, max_objects=settings.max_objects, options=options
    )
    folder = variant_folder(out, variant)
    with folder.locked(evaluate):
        applied = choose_and_apply(
            sweep_folder.sweep, tune, evaluate, spec, folder, settings=choice, execution=execution
        )
    return {"sweep": sweep, "best": applied.thresholds}


def variant_sweep(out: Path, variant: Variant) -> SweepFolder:
    """Where ``variant``'s sweep is in a fold's folder ``out`` (shared by the variants of one mode)."""
    return SweepFolder(out / variant.sweep_folder)


def variant_folder(out: Path, variant: Variant) -> ChoiceFolder:
    """Where ``variant`` writes its thresholds, figures and refined maps in a fold's folder ``out``."""
    return ChoiceFolder(out / variant.folder)


def fold_summary(fold: Fold, chosen: dict[str, Thresholds], spec: DatasetSpec) -> dict:
    """The fold's tiles and, by class name, the thresholds each variant chose (the per-class pick's at the top)."""
    first, *others = SESSRS_VARIANTS
    return {
        "name": fold.name,
        "tune": list(fold.tune),
        "eval": list(fold.evaluate),
        **chosen[first.key].by_class_name(spec),
        "variants": {v.label: chosen[v.key].by_class_name(spec) for v in others if v.key in chosen},
    }
