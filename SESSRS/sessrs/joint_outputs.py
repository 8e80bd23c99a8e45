"""The joint search run on folders: from a sweep's per-class pick to ``best.json``, ``metrics.json``, ``se_mask/``,
and what it leaves for people to read: its trace as JSON and a plot of the mIoU step by step."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, write_json_atomic, write_text_atomic
from rscommon.parallel import Execution

from .inputs import Sample
from .joint import SearchState, joint_search, settings_from, thresholds_of
from .modes import FAITHFUL, RefineOptions, check_sweep_options
from .pick import apply_to_samples, check_previous_pick, comparison_table, pick_thresholds
from .plots import save_figure
from .sweep_engine import REFERENCE_GRID, ThresholdGrid
from .thresholds import APPLY_MAX_OBJECTS, Thresholds
from rscommon.outputs import check_output_folder

from .validate import read_sweep

TRACE_JSON = "joint_trace.json"
TRACE_PNG = "joint_trace.png"


def write_trace(state: SearchState, spec: DatasetSpec, out_dir: str | Path, options: RefineOptions,
                grid: ThresholdGrid, tuned_on: list[str]) -> dict:
    """Write ``joint_trace.json`` and ``joint_trace.png`` into ``out_dir``; returns the JSON content."""
    out_dir = Path(out_dir)
    trace = {
        "dataset": spec.name,
        "mode": options.mode,
        "options": options.to_json(),
        "grid": grid.to_json(),
        "tuned_on": tuned_on,
        "start": state.trace[0]["thresholds"],
        "best": thresholds_of(state.settings).to_json(),
        "mIoU_start": state.trace[0]["mIoU"],
        "mIoU_best": 100 * state.miou,
        "rounds": state.round,
        "settings_scored": state.evaluations,
        "seconds": round(state.seconds, 2),
        "ms_per_setting_and_image": round(1000 * state.seconds / max(state.evaluations * len(tuned_on), 1), 3),
        "steps": state.trace,
    }
    write_json_atomic(out_dir / TRACE_JSON, trace)
    trace_plot(trace, spec, out_dir / TRACE_PNG)
    return trace


def trace_plot(trace: dict, spec: DatasetSpec, path: str | Path) -> None:
    """mIoU after each step of the search (tune images), rounds shaded, changed classes named."""
    # Imported here so that ``import sessrs`` does not load Matplotlib; a bare Figure needs no GUI backend.
    from matplotlib.figure import Figure

    steps = trace["steps"]
    figure = Figure(figsize=(8, 3.8))
    axes = figure.subplots()
    axes.plot([s["step"] for s in steps], [s["mIoU"] for s in steps], marker="o", markersize=3, color="tab:blue")
    for step in steps[1:]:
        if step["gain"] > 0:
            axes.annotate(step["class_name"], (step["step"], step["mIoU"]), textcoords="offset points",
                          xytext=(0, 6), ha="center", fontsize=7)
        if step["round"] % 2 == 0:
            axes.axvspan(step["step"] - 0.5, step["step"] + 0.5, color="0.92", lw=0)
    axes.axhline(trace["mIoU_start"], color="0.5", ls="--", lw=1, label="per-class pick (start)")
    axes.set_xlabel("step (one class scored at all its settings; grey: even rounds)")
    axes.set_ylabel("mIoU on the tune images (%)")
    axes.set_title(f"{spec.name}: joint search, {trace['mode']} mode "
                   f"({trace['mIoU_start']:.2f} -> {trace['mIoU_best']:.2f})")
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)


@dataclass(frozen=True)
class JointResult:
    """A joint search and its application: where it started (the per-class pick), what it found, its trace and
    the figures on the reported images (``None`` without ground truth)."""

    start: Thresholds
    thresholds: Thresholds
    trace: dict
    report: dict | None


def search_and_apply(
    sweep_file: str | Path,
    tune: Sequence[Sample],
    samples: Sequence[Sample],
    spec: DatasetSpec,
    out_dir: str | Path,
    refined_dir: str | Path,
    threshold_mode: str | float = 0.7,
    max_objects: int = APPLY_MAX_OBJECTS,
    options: RefineOptions = FAITHFUL,
    workers: int = 1,
    scheduler: str | None = None,
) -> JointResult:
    """Search jointly on the ``tune`` images from the per-class pick of ``sweep_file`` (over the sweep's classes
    and grid), then write ``best.json``, the trace (``joint_trace.json``/``.png``), refine ``samples`` into
    ``refined_dir`` and write ``metrics.json``/``.txt``. Resumable: the search keeps its state in ``out_dir``.
    """
    out_dir, refined_dir = Path(out_dir), Path(refined_dir)
    if not tune or not samples:
        raise InputError("no images to search on" if not tune else "no images to refine")
    if any(sample.gt is None for sample in tune):
        raise InputError("the joint search scores its settings against ground truth: give --gt-dir")
    sweep = read_sweep(sweep_file, spec)
    check_sweep_options(sweep, options, sweep_file)
    start = pick_thresholds(sweep, spec, threshold_mode)
    grid = ThresholdGrid(**sweep["grid"]) if "grid" in sweep else REFERENCE_GRID
    first = samples[0]
    inputs = {"prediction": first.pred.parent, "objects": first.sam.parent,
              "ground-truth": first.gt.parent if first.gt is not None else None}
    check_output_folder(out_dir, inputs)
    check_output_folder(refined_dir, inputs, "output folder")
    state = joint_search(tune, spec, settings_from(start, spec.num_classes), out_dir, max_objects=max_objects,
                         grid=grid, options=options, classes=[int(c) for c in sweep["sweeps"]],
                         execution=Execution(workers, scheduler))
    best = thresholds_of(state.settings)
    check_previous_pick(out_dir / "best.json", best)
    trace = write_trace(state, spec, out_dir, options, grid, [s.stem for s in tune])
    best.write(out_dir / "best.json")
    report = apply_to_samples(list(samples), spec, best, refined_dir, max_objects, workers, scheduler, options)
    if report is not None:
        write_json_atomic(out_dir / "metrics.json", report)
        write_text_atomic(out_dir / "metrics.txt", comparison_table(report, spec))
    return JointResult(start=start, thresholds=best, trace=trace, report=report)
