"""From a sweep to refined maps and figures: choose the thresholds, write ``best.json``, apply them, report.

One path for every way of choosing: the reference's per-class pick (``search="pick"``) and the joint search
(``search="joint"``, which starts from the pick), optionally followed by the cv selection of the pick's classes
(``select="cv"``, :mod:`sessrs.selection`), or the pick against the votes, held out (``method="auto"``,
:mod:`sessrs.method_choice`). The scripts, :mod:`sessrs.api` and the demo call
:func:`choose_and_apply`; everything it will write is checked before anything is written. ``best.json`` also
records how they are to be applied (:class:`~sessrs.thresholds.Application`: dataset, mode, switches, object
limit) and what the chosen thresholds change on the labelled pixels of the tune images (``tuned_on``,
``tuned_changes``), for comparison with what they change elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, write_json_atomic
from rscommon.labels import read_label_png
from rscommon.metrics import confusion_matrix
from rscommon.parallel import LOCAL, Execution, progress_map

from .application import apply_to_samples, check_application_folder, comparison_table, forget_applied
from .choice_settings import ChoiceSettings
from .folders import ChoiceFolder
from .inputs import Sample, load_ground_truth, load_prediction, load_prepared
from .joint import SearchState, ShardPool, joint_search, settings_from, thresholds_of
from .joint_trace import write_trace
from .method_choice import MethodChoice, choose_method, method_table
from .methods import refine_sample
from .modes import RefineOptions, check_sweep_options
from .pick import pick_thresholds
from .selection import Selection, select_by_cv, selection_table, sweep_grid, sweep_parts
from .thresholds import Application, Thresholds
from .validate import read_sweep


@dataclass(frozen=True)
class Choice:
    """Chosen thresholds and their application: where the choice started (the per-class pick), the thresholds
    written to ``best.json``, the chooser's record (the joint search's trace; ``None`` for the pick), the
    figures on the reported images (``None`` without ground truth), the cv selection's record and the method
    choice's record (each ``None`` without it)."""

    start: Thresholds
    thresholds: Thresholds
    details: dict | None
    report: dict | None
    selection: dict | None = None
    method: dict | None = None


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
        raise InputError(
            f"{context.folder.best}: holds thresholds chosen without the joint search; choose another "
            "output folder or remove that one"
        )
    state = search_jointly(
        start,
        context.sweep,
        context.tune,
        context.spec,
        context.folder.root,
        settings=context.settings,
        execution=context.execution,
    )
    tuned_on = [sample.stem for sample in context.tune]
    return thresholds_of(state.settings), lambda: write_trace(
        state, context.spec, context.folder, context.settings.options, sweep_grid(context.sweep), tuned_on
    )


def search_jointly(
    start: Thresholds,
    sweep: Mapping,
    tune: Sequence[Sample],
    spec: DatasetSpec,
    state_dir: str | Path,
    *,
    settings: ChoiceSettings,
    execution: Execution = LOCAL,
    pool: ShardPool | None = None,
) -> SearchState:
    """The joint search from ``start`` (the pick of ``sweep``) on the ``tune`` images, over the sweep's grid and
    classes, with the object limit, mode and memory limit of ``settings``; resumable from its state in
    ``state_dir``. ``pool``: shards already holding the images, which several searches may share (then
    ``execution`` and the memory limit are the pool's)."""
    return joint_search(
        tune,
        spec,
        settings_from(start, spec.num_classes),
        state_dir,
        max_objects=settings.max_objects,
        grid=sweep_grid(sweep),
        options=settings.options,
        classes=[int(c) for c in sweep["sweeps"]],
        execution=execution,
        memory_limit=settings.memory_limit,
        pool=pool,
    )


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
    ``folder.best`` then also gets ``tuned_on`` (the tune images) and ``tuned_changes`` (:func:`change_shares` of
    the chosen thresholds on them); with ``settings.select == "cv"``, ``folder.selection`` gets the selection.

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
    selection = _select(thresholds, context, sweep_file)
    if selection is not None:
        thresholds = selection.thresholds
    method = _choose_method(thresholds, start, context, sweep_file)
    if method is not None:
        thresholds = method.thresholds
    _check_outputs(thresholds, samples, spec, folder, settings)
    details = write_details() if write_details is not None else None
    if selection is not None:
        write_json_atomic(folder.selection, selection.record)
    if method is not None:
        write_json_atomic(folder.method_choice, method.record)
    report = _apply(thresholds, samples, spec, folder, settings, execution)
    changes = _tuned_change_counts(thresholds, tune, samples, spec, folder, settings, execution)
    write_json_atomic(
        folder.best,
        {
            **thresholds.to_json(),
            **_application(spec, settings).to_json(),
            "tuned_on": [sample.stem for sample in tune],
            "tuned_changes": change_shares(changes, spec),
        },
    )
    if report is not None:
        table = comparison_table(report, spec) + (selection_table(selection.record) if selection else "")
        table += method_table(method.record) if method else ""
        folder.write_metrics(report, table)
    return Choice(
        start=start,
        thresholds=thresholds,
        details=details,
        report=report,
        selection=selection.record if selection else None,
        method=method.record if method else None,
    )


def restart(folder: ChoiceFolder) -> None:
    """Forget the saved work of an earlier run into ``folder`` (the joint search's state, the refined maps'
    record), so that everything is computed again; the chosen thresholds are still checked against
    ``folder.best``."""
    folder.joint_state.unlink(missing_ok=True)
    forget_applied(folder.refined)


def apply_given(
    thresholds: Thresholds,
    samples: Sequence[Sample],
    spec: DatasetSpec,
    folder: ChoiceFolder,
    *,
    settings: ChoiceSettings = ChoiceSettings(),
    execution: Execution = LOCAL,
    record: Mapping[str, Any] | None = None,
) -> dict | None:
    """Apply ``thresholds`` chosen elsewhere (a preset, a ``best.json``) without a sweep: ``folder.best`` (with
    ``record`` added, e.g. the preset's name), the refined maps and, with ground truth, the figures, which it
    returns. The outputs are checked as :func:`choose_and_apply` checks them, before anything is written."""
    if not samples:
        raise InputError("no images to refine")
    folder.check(samples)
    _check_outputs(thresholds, samples, spec, folder, settings)
    report = _apply(thresholds, samples, spec, folder, settings, execution, record)
    if report is not None:
        folder.write_metrics(report, comparison_table(report, spec))
    return report


def _check_outputs(
    thresholds: Thresholds, samples: Sequence[Sample], spec: DatasetSpec, folder: ChoiceFolder, settings: ChoiceSettings
) -> None:
    """Refuse a folder holding another choice, or refined maps the application cannot use."""
    folder.refuse_other_choice(thresholds)
    check_application_folder(
        folder.refined, list(samples), spec, thresholds, max_objects=settings.max_objects, options=settings.options
    )


def _apply(
    thresholds: Thresholds,
    samples: Sequence[Sample],
    spec: DatasetSpec,
    folder: ChoiceFolder,
    settings: ChoiceSettings,
    execution: Execution,
    record: Mapping[str, Any] | None = None,
) -> dict | None:
    """``folder.best`` (the thresholds, how they are applied and ``record``) first, then the refined maps; the
    application's figures."""
    write_json_atomic(folder.best, {**thresholds.to_json(), **_application(spec, settings).to_json(), **(record or {})})
    return apply_to_samples(
        list(samples),
        spec,
        thresholds,
        folder.refined,
        max_objects=settings.max_objects,
        options=settings.options,
        execution=execution,
    )


def _application(spec: DatasetSpec, settings: ChoiceSettings) -> Application:
    """How the chosen thresholds are applied, as ``best.json`` records it."""
    return Application(dataset=spec.name, options=settings.options, max_objects=settings.max_objects)


def _select(chosen: Thresholds, context: _Context, sweep_file: str | Path) -> Selection | None:
    """The cv selection of the chosen classes when the settings ask for it."""
    settings = context.settings
    if settings.select == "all":
        return None
    return select_by_cv(
        sweep_file, context.sweep, context.tune, context.spec, chosen, settings=settings, execution=context.execution
    )


def _choose_method(
    chosen: Thresholds, start: Thresholds, context: _Context, sweep_file: str | Path
) -> MethodChoice | None:
    """The pick, no refinement or a vote, held out, when the settings ask for it."""
    settings = context.settings
    if settings.method == "thresholds":
        return None
    return choose_method(
        sweep_parts(sweep_file, context.sweep, context.tune, context.spec),
        sweep_grid(context.sweep),
        context.tune,
        context.spec,
        chosen,
        start,
        settings=settings,
        execution=context.execution,
    )


def _tuned_change_counts(
    thresholds: Thresholds,
    tune: Sequence[Sample],
    samples: Sequence[Sample],
    spec: DatasetSpec,
    folder: ChoiceFolder,
    settings: ChoiceSettings,
    execution: Execution,
) -> np.ndarray:
    """Labelled pixels of the ``tune`` images (those whose ground truth is a class of ``spec``; every pixel of an
    image without ground truth) by (predicted class, class after refining with ``thresholds``): read from the
    refined maps in ``folder`` for the images also in ``samples``, refined here for the others."""
    refined = {sample.stem for sample in samples}
    jobs = [
        (
            sample,
            spec,
            thresholds,
            settings.max_objects,
            settings.options,
            folder.refined.refined_map(sample.stem) if sample.stem in refined else None,
        )
        for sample in tune
    ]
    return sum(progress_map(_change_counts, jobs, execution, "tuned changes", "image"))


def _change_counts(job: tuple[Sample, DatasetSpec, Thresholds, int, RefineOptions, Path | None]) -> np.ndarray:
    sample, spec, thresholds, max_objects, options, refined_map = job
    if refined_map is not None:
        pred, refined = load_prediction(sample.pred, spec), read_label_png(refined_map, spec)
    else:
        prepared = load_prepared(sample, spec)
        pred = prepared.pred
        refined = refine_sample(sample, prepared, thresholds, max_objects=max_objects, options=options)
    if sample.gt is not None:
        labelled = load_ground_truth(sample, spec, pred.shape) < spec.num_classes
        pred, refined = pred[labelled], refined[labelled]
    return confusion_matrix(pred, refined, spec.num_classes)


def change_shares(counts: np.ndarray, spec: DatasetSpec) -> dict[str, dict[str, float]]:
    """Per class, of all the pixels counted in ``counts`` (predicted class x refined class): the share changed
    ``to`` the class, changed ``from`` it, and ``predicted`` as it before the refinement (6 decimals)."""
    total = max(int(counts.sum()), 1)
    changed = counts - np.diag(np.diag(counts))
    return {
        name: {
            "to": round(float(changed[:, c].sum()) / total, 6),
            "from": round(float(changed[c].sum()) / total, 6),
            "predicted": round(float(counts[c].sum()) / total, 6),
        }
        for c, name in enumerate(spec.classes)
    }
