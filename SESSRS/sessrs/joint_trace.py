"""What the joint search leaves for people to read: its trace as JSON and a plot of the mIoU step by step."""

from __future__ import annotations

from pathlib import Path

from rscommon.datasets import DatasetSpec
from rscommon.files import write_json_atomic

from .folders import ChoiceFolder
from .joint import SearchState, thresholds_of
from .modes import RefineOptions
from .plots import save_figure
from .sweep_engine import ThresholdGrid


def write_trace(
    state: SearchState,
    spec: DatasetSpec,
    folder: ChoiceFolder,
    options: RefineOptions,
    grid: ThresholdGrid,
    tuned_on: list[str],
) -> dict:
    """Write the trace of ``state`` as ``folder.joint_trace`` (JSON) and ``folder.joint_trace_plot``; returns the
    JSON content."""
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
    write_json_atomic(folder.joint_trace, trace)
    trace_plot(trace, spec, folder.joint_trace_plot)
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
            axes.annotate(
                step["class_name"],
                (step["step"], step["mIoU"]),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=7,
            )
        if step["round"] % 2 == 0:
            axes.axvspan(step["step"] - 0.5, step["step"] + 0.5, color="0.92", lw=0)
    axes.axhline(trace["mIoU_start"], color="0.5", ls="--", lw=1, label="per-class pick (start)")
    axes.set_xlabel("step (one class scored at all its settings; grey: even rounds)")
    axes.set_ylabel("mIoU on the tune images (%)")
    axes.set_title(
        f"{spec.name}: joint search, {trace['mode']} mode ({trace['mIoU_start']:.2f} -> {trace['mIoU_best']:.2f})"
    )
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)
