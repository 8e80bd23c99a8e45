"""Pictures of results: the t1 x t2 heatmaps of a sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def sweep_heatmap(rows: list[dict], baseline_miou: float, t1_values, t2_values, title: str, path: str | Path) -> None:
    """Save a t1 x t2 heatmap of the mIoU change against the unrefined prediction."""
    # Imported here so that ``import sessrs`` does not load Matplotlib; a bare Figure needs no GUI backend.
    from matplotlib.figure import Figure

    change = np.full((len(t1_values), len(t2_values)), np.nan)
    for row in rows:
        change[t1_values.index(row["t1"]), t2_values.index(row["t2"])] = row["mIoU"] - baseline_miou
    limit = max(float(np.nanmax(np.abs(change))), 0.01)
    figure = Figure(figsize=(7.5, 3.6))
    axes = figure.subplots()
    image = axes.imshow(change, cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    for (i, j), value in np.ndenumerate(change):
        axes.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=7)
    axes.set_xticks(range(len(t2_values)), [f"{t:.2f}" for t in t2_values])
    axes.set_yticks(range(len(t1_values)), [f"{t:.1f}" for t in t1_values])
    axes.set_xlabel("t2")
    axes.set_ylabel("t1")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label="mIoU change (points)")
    figure.subplots_adjust(left=0.08, right=0.99, bottom=0.14, top=0.9)
    save_figure(figure, path)


def save_figure(figure, path: str | Path, dpi: int = 110) -> None:
    """Save a Matplotlib figure as PNG under a temporary name beside ``path``, then rename it into place
    (the temporary is removed if saving fails)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp.png")
    try:
        figure.savefig(temporary, dpi=dpi)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
