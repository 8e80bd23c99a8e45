"""From a sweep to refined maps and figures: choose the thresholds, write ``best.json``, apply them, report.

One path for every way of choosing: the reference's per-class pick (``search="pick"``) and the joint search
(``search="joint"``, which starts from the pick). The scripts, :mod:`sessrs.api` and the demo call
:func:`choose_and_apply`; everything it will write is checked before anything is written.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError
from rscommon.parallel import LOCAL, Execution

from .application import apply_to_samples, check_application_folder, comparison_table
from .folders import ChoiceFolder
from .inputs import Sample
from .joint import joint_search, settings_from, thresholds_of
from .joint_trace import write_trace
from .modes import FAITHFUL, RefineOptions, check_sweep_options
from .pick import pick_thresholds, threshold_limit
from .sweep_engine import REFERENCE_GRID, ThresholdGrid
from .thresholds import APPLY_MAX_OBJECTS, Thresholds
from .validate import read_sweep

SEARCHES = ("pick", "joint")


@dataclass(frozen=True)
class ChoiceSettings:
    """How thresholds are chosen and applied.

    ``search``: ``pick`` (each class's best sweep row, the reference) or ``joint`` (coordinate descent from the
    pick on the full application's mIoU over the tune images). ``threshold_mode``: the largest picked t1 put into
    ``modify`` (``all``: 0.99). ``max_objects`` and ``options``: the application's object limit and refinement mode
    (the sweep's mode must be the same). ``memory_limit``: bytes the joint search's processes may hold together
    (None: a sixth of this machine's memory); images beyond it wait on disk between steps.
    """

    search: str = "pick"
    threshold_mode: str | float = 0.7
    max_objects: int = APPLY_MAX_OBJECTS
    options: RefineOptions = FAITHFUL
    memory_limit: int | None = None

    def __post_init__(self) -> None:
        if self.search not in SEARCHES:
            raise InputError(f"search {self.search!r} is not one of {', '.join(SEARCHES)}")
        threshold_limit(self.threshold_mode)
        if isinstance(self.max_objects, bool) or not isinstance(self.max_objects, int) or self.max_objects < 1:
            raise InputError(f"max_objects must be a whole number of at least 1, got {self.max_objects!r}")
        if self.memory_limit is not None and self.memory_limit < 2**20:
            raise InputError(f"memory_limit must be at least 1 MiB, got {self.memory_limit!r} bytes")


@dataclass(frozen=True)
class Choice:
    """Chosen thresholds and their application: where the choice started (the per-class pick), the thresholds
    written to ``best.json``, the chooser's record (the joint search's trace; ``None`` for the pick) and the
    figures on the reported images (``None`` without ground truth)."""

    start: Thresholds
    thresholds: Thresholds
    details: dict | None
    report: dict | None


@dataclass(frozen=True)
class _Context:
    """What a chooser works from."""

    sweep: dict
    tune: Sequence[Sample]
    spec: DatasetSpec
    folder: ChoiceFolder
    settings: ChoiceSettings
    execution: Execution


Chooser = Callable[[Thresholds, _Context], tuple[Thresholds, Callable[[], dict] | None]]
"""``(start, context) -> (thresholds, writer)``: ``writer`` writes the chooser's record once the choice is checked."""


def _keep_pick(start: Thresholds, context: _Context) -> tuple[Thresholds, None]:
    return start, None


def _search_jointly(start: Thresholds, context: _Context) -> tuple[Thresholds, Callable[[], dict]]:
    if any(sample.gt is None for sample in context.tune):
        raise InputError("the joint search scores its settings against ground truth: give --gt-dir")
    if context.folder.best.exists() and not context.folder.joint_state.exists():
        raise InputError(f"{context.folder.best}: holds thresholds chosen without the joint search; choose another "
                         "output folder or remove that one")
    spec, settings = context.spec, context.settings
    grid = ThresholdGrid(**context.sweep["grid"]) if "grid" in context.sweep else REFERENCE_GRID
    state = joint_search(context.tune, spec, settings_from(start, spec.num_classes), context.folder.root,
                         max_objects=settings.max_objects, grid=grid, options=settings.options,
                         classes=[int(c) for c in context.sweep["sweeps"]], execution=context.execution,
                         memory_limit=settings.memory_limit)
    tuned_on = [sample.stem for sample in context.tune]
    return thresholds_of(state.settings), lambda: write_trace(state, spec, context.folder, settings.options, grid,
                                                              tuned_on)


CHOOSERS: dict[str, Chooser] = {"pick": _keep_pick, "joint": _search_jointly}


def choose_and_apply(
    sweep_file: str | Path,
    tune: Sequence[Sample],
    samples: Sequence[Sample],
    spec: DatasetSpec,
    folder: ChoiceFolder,
    *,
    settings: ChoiceSettings = ChoiceSettings(),
    execution: Execution = LOCAL,
) -> Choice:
    """Choose thresholds from ``sweep_file`` (searching on the ``tune`` images), write them to ``folder.best``,
    refine ``samples`` into ``folder.refined`` and write the figures (``folder.metrics``, with ground truth).

    Checked before anything is written: the sweep (for ``spec`` and the refinement mode), the images, and both
    output folders (not an input folder, writable, not holding refined maps of other thresholds). Resumable: the
    refined maps are kept while their inputs are unchanged, and the joint search keeps its state in ``folder``.
    """
    if not tune or not samples:
        raise InputError("no images to search on" if not tune else "no images to refine")
    sweep = read_sweep(sweep_file, spec)
    check_sweep_options(sweep, settings.options, sweep_file)
    start = pick_thresholds(sweep, spec, settings.threshold_mode)
    folder.check(samples)
    context = _Context(sweep, tune, spec, folder, settings, execution)
    thresholds, write_details = CHOOSERS[settings.search](start, context)
    folder.refuse_other_choice(thresholds)
    check_application_folder(folder.refined, list(samples), spec, thresholds, max_objects=settings.max_objects,
                             options=settings.options)
    details = write_details() if write_details is not None else None
    thresholds.write(folder.best)
    report = apply_to_samples(list(samples), spec, thresholds, folder.refined, max_objects=settings.max_objects,
                              options=settings.options, execution=execution)
    if report is not None:
        folder.write_metrics(report, comparison_table(report, spec))
    return Choice(start=start, thresholds=thresholds, details=details, report=report)
