"""The demo's offline report: per-tile panel PNGs, t1 x t2 heatmaps from ``sweep.json``, and one HTML page plus a
JSON file holding the same figures.

The report is a plain dict (see :func:`write_report`); this module only draws and renders it, it computes no
metrics itself.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, save_png_atomic, write_json_atomic, write_text_atomic
from rscommon.labels import labels_to_rgb
from rscommon.overlay import render_objects

PANEL_TITLES = ("image", "ground truth", "prediction", "objects", "refined", "changed pixels")
CHANGE_COLOURS = {
    "fixed": (40, 200, 60),  # wrong before, right after
    "broken": (230, 40, 40),  # right before, wrong after
    "other": (250, 210, 40),  # changed, wrong before and after (or unlabelled ground truth)
}
HEADER_HEIGHT = 22
HEADLINE_FIGURES = ("mIoU", "OA")


def draw_changes(pred: np.ndarray, refined: np.ndarray, gt: np.ndarray, ignore_index: int) -> np.ndarray:
    """Pixels the refinement changed: green when it fixed them, red when it broke them, yellow otherwise."""
    canvas = np.zeros((*pred.shape, 3), np.uint8)
    changed = pred != refined
    labelled = gt != ignore_index
    fixed = changed & labelled & (refined == gt)
    broken = changed & labelled & (pred == gt)
    canvas[changed] = CHANGE_COLOURS["other"]
    canvas[fixed] = CHANGE_COLOURS["fixed"]
    canvas[broken] = CHANGE_COLOURS["broken"]
    return canvas


def compose_panel(views: Sequence[np.ndarray], titles: Sequence[str], cell: int = 256) -> Image.Image:
    """Lay RGB views side by side, each resized to ``cell`` pixels wide, with a title bar above each."""
    font = ImageFont.load_default(size=14)
    cells = []
    for view in views:
        height, width = view.shape[:2]
        size = (cell, max(1, round(height * cell / width)))
        cells.append(Image.fromarray(view).resize(size, Image.Resampling.NEAREST))
    tallest = max(c.height for c in cells)
    gap = 4
    panel = Image.new("RGB", (len(cells) * (cell + gap) - gap, tallest + HEADER_HEIGHT), "white")
    draw = ImageDraw.Draw(panel)
    for index, (image, title) in enumerate(zip(cells, titles)):
        left = index * (cell + gap)
        draw.text((left + 4, 3), title, fill="black", font=font)
        panel.paste(image, (left, HEADER_HEIGHT))
    return panel


def save_tile_panel(
    path: Path,
    image: np.ndarray,
    gt: np.ndarray,
    pred: np.ndarray,
    masks: Sequence[np.ndarray],
    refined: np.ndarray,
    spec: DatasetSpec,
) -> dict:
    """Write the panel image | ground truth | prediction | objects | refined | changed pixels for one tile.

    Returns the changed-pixel counts shown in the last view."""
    shapes = {a.shape[:2] for a in (image, gt, pred, refined)}
    if len(shapes) != 1:
        raise InputError(f"{path.name}: image, ground truth, prediction and refined map differ in size: {shapes}")
    views = [
        image[..., :3],
        labels_to_rgb(gt, spec),
        labels_to_rgb(pred, spec),
        render_objects(np.stack(masks, axis=2) if len(masks) else np.zeros((*pred.shape, 0), bool)),
        labels_to_rgb(refined, spec),
        draw_changes(pred, refined, gt, spec.ignore_index),
    ]
    save_png_atomic(path, compose_panel(views, PANEL_TITLES))
    changed = pred != refined
    labelled = gt != spec.ignore_index
    return {
        "changed_pixels": int(changed.sum()),
        "fixed_pixels": int((changed & labelled & (refined == gt)).sum()),
        "broken_pixels": int((changed & labelled & (pred == gt)).sum()),
    }


def heatmap_from_sweep(sweep: dict, class_id: int, class_name: str, image: str | None = None) -> dict:
    """The t1 x t2 grid of mIoU change against the unrefined baseline for one class of a ``sweep.json``."""
    rows = sweep["sweeps"][str(class_id)]
    t1s = sorted({row["t1"] for row in rows})
    t2s = sorted({row["t2"] for row in rows})
    grid: list[list[float | None]] = [[None] * len(t2s) for _ in t1s]
    baseline = sweep["baseline"]["mIoU"]
    for row in rows:
        grid[t1s.index(row["t1"])][t2s.index(row["t2"])] = round(row["mIoU"] - baseline, 2)
    return {"class": class_name, "t1": t1s, "t2": t2s, "delta_miou": grid, "baseline_miou": baseline, "image": image}


def _cell_colour(value: float | None, scale: float) -> str:
    if value is None:
        return "#eee"
    strength = min(abs(value) / scale, 1.0) if scale > 0 else 0.0
    fade = round(255 * (1 - 0.75 * strength))
    return f"rgb({fade},{fade},255)" if value > 0 else f"rgb(255,{fade},{fade})" if value < 0 else "#fff"


def _heatmap_html(heatmap: dict) -> str:
    values = [v for row in heatmap["delta_miou"] for v in row if v is not None]
    scale = max((abs(v) for v in values), default=0.0)
    head = "".join(f"<th>{t2:g}</th>" for t2 in heatmap["t2"])
    body = "".join(
        f"<tr><th>{t1:g}</th>"
        + "".join(
            f'<td style="background:{_cell_colour(v, scale)}">{"" if v is None else f"{v:+.2f}"}</td>' for v in row
        )
        + "</tr>"
        for t1, row in zip(heatmap["t1"], heatmap["delta_miou"])
    )
    picture = (
        f'<img src="{html.escape(heatmap["image"])}" alt="heatmap {html.escape(heatmap["class"])}">'
        if heatmap["image"]
        else ""
    )
    return (
        f'<figure class="heatmap"><figcaption>{html.escape(heatmap["class"])}: mIoU change vs. unrefined '
        f"({heatmap['baseline_miou']:.2f}); rows t1, columns t2</figcaption>"
        f'<table class="grid"><tr><th>t1 \\ t2</th>{head}</tr>{body}</table>{picture}</figure>'
    )


def _change_html(value: float | None, baseline: float | None) -> str:
    """The change of ``value`` against ``baseline``, coloured; empty when either is undefined."""
    if value is None or baseline is None:
        return ""
    change = value - baseline
    style = "up" if change > 0.005 else "down" if change < -0.005 else "same"
    return f' <span class="{style}">({change:+.2f})</span>'


def _figure(value: float | None, baseline: float | None = None) -> str:
    """A figure (``n/a`` when undefined), with its change against ``baseline`` when one is given."""
    return "n/a" if value is None else f"{value:.2f}{_change_html(value, baseline)}"


def _metrics_table_html(rows: Sequence[dict], classes: Sequence[str], labels: dict[str, str]) -> str:
    """Classes down, methods across (IoU and F1 each, headed by their ``labels``); changes against the first row
    (the unrefined prediction)."""
    before = rows[0]
    head = (
        '<tr><th rowspan="2">class</th>'
        + "".join(f'<th colspan="2">{html.escape(labels[row["peer"]])}</th>' for row in rows)
        + "</tr><tr>"
        + "<th>IoU</th><th>F1</th>" * len(rows)
        + "</tr>"
    )
    lines = [(name, lambda row, name=name: (row["IoU"].get(name), row["F1"].get(name))) for name in classes]
    lines.append(("mean (mIoU, mF1)", lambda row: (row["mIoU"], row["mF1"])))
    lines.append(("OA", lambda row: (row["OA"],)))
    body = ""
    for label, values in lines:
        baselines = values(before)
        span = ' colspan="2"' if len(baselines) == 1 else ""
        body += (
            f"<tr><td>{html.escape(label)}</td>"
            + "".join(
                f"<td{span}>{_figure(value, None if row is before else baseline)}</td>"
                for row in rows
                for value, baseline in zip(values(row), baselines)
            )
            + "</tr>"
        )
    return f'<table class="metrics">{head}{body}</table>'


def _chosen_html(chosen: dict) -> str:
    return f"modify = [{html.escape(', '.join(chosen['modify']))}]; " + html.escape(
        ", ".join(f"{c}: t1 {chosen['t1'][c]:g} t2 {chosen['t2'][c]:g}" for c in chosen["modify"])
    )


def _thresholds_html(folds: Sequence[dict]) -> str:
    """Per fold its tiles and the per-class pick's thresholds, then those of the other variants, if any."""
    items = "".join(
        f"<li>tuned on {html.escape(', '.join(f['tune']))}, evaluated on {html.escape(', '.join(f['eval']))}: "
        f"{_chosen_html(f)}"
        + "".join(
            f"<br>{html.escape(label)}: {_chosen_html(chosen)}" for label, chosen in f.get("variants", {}).items()
        )
        + "</li>"
        for f in folds
    )
    return f"<ul>{items}</ul>"


def _headline_html(group: dict) -> str:
    """The set's answer: per method mIoU (and its change against unrefined) and OA under each protocol."""
    rows = group["headline"]
    protocols = [p for p in group["protocols"] if p["key"] in rows[0]]
    head = (
        '<tr><th rowspan="2">method</th>'
        + "".join(f'<th colspan="2">{html.escape(p["title"])}</th>' for p in protocols)
        + "</tr><tr>"
        + "<th>mIoU</th><th>OA</th>" * len(protocols)
        + "</tr>"
    )
    body = ""
    for row in rows:
        cells = ""
        for protocol in protocols:
            for figure in HEADLINE_FIGURES:
                value = row[protocol["key"]][figure]
                baseline = None if row is rows[0] else rows[0][protocol["key"]][figure]
                cells += (
                    f'<td><span class="figure" data-set="{html.escape(group["key"])}" '
                    f'data-method="{html.escape(row["method"])}" data-protocol="{protocol["key"]}" '
                    f'data-figure="{figure}">{_figure(value)}</span>{_change_html(value, baseline)}</td>'
                )
        body += f"<tr><td>{html.escape(row['label'])}</td>{cells}</tr>"
    refined = "; ".join(
        f"{html.escape(p['title'].split(' (')[0])}: "
        f"{html.escape(', '.join(group['sessrs_refined'][p['key']]) or 'none')}"
        for p in protocols
    )
    return (
        f"<h3>{html.escape(group['label'])}: {len(group['tiles'])} tiles</h3>"
        f'<table class="headline">{head}{body}</table><p>Classes the SESSRS per-class pick refined: {refined} (a '
        "class is refined when a t1/t2 pair beat the unrefined prediction on the tuning tiles).</p>"
    )


def _group_html(group: dict) -> str:
    labels = {row["method"]: row["label"] for row in group["headline"]}
    parts = [
        f'<h2 id="{html.escape(group["key"])}">{html.escape(group["label"])}</h2>',
        f"<p>Tiles: {html.escape(', '.join(group['tiles']))}</p>",
    ]
    for protocol in group["protocols"]:
        parts += [
            f"<h3>{html.escape(protocol['title'])}</h3>",
            f"<p>{html.escape(protocol['description'])}</p>",
            _metrics_table_html(protocol["rows"], group["classes"], labels),
            "<p>Thresholds chosen for SESSRS (per-class pick first):</p>",
            _thresholds_html(protocol["folds"]),
        ]
    parts.append("<h3>t1 x t2 sweep per class (reference protocol, all tiles)</h3>")
    parts.append('<div class="heatmaps">' + "".join(_heatmap_html(h) for h in group["heatmaps"]) + "</div>")
    parts.append("<h3>Tiles: image | ground truth | prediction | objects | refined (SESSRS, reference) | changed</h3>")
    parts.append(
        "<p>Changed pixels: <span style='color:#28c83c'>green</span> fixed, <span style='color:#e62828'>red</span> "
        "broken, <span style='color:#c8a000'>yellow</span> changed but wrong before and after.</p>"
    )
    for panel in group["panels"]:
        parts.append(
            f'<figure><img class="panel" src="{html.escape(panel["image"])}" alt="{html.escape(panel["tile"])}">'
            f"<figcaption>{html.escape(panel['tile'])}: {panel['changed_pixels']} pixels changed "
            f"({panel['fixed_pixels']} fixed, {panel['broken_pixels']} broken)</figcaption></figure>"
        )
    return "\n".join(parts)


STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1600px; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: 90%; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: right; }
td:first-child, tr:first-child th:first-child { text-align: left; }
table.headline { font-size: 100%; }
.setup { background: #f4f6fa; border: 1px solid #ccd; padding: .5em 1em; }
.setup dt { font-weight: bold; margin-top: .4em; }
.setup dd { margin-left: 1em; }
.missing { color: #8a5300; }
.heatmaps { display: flex; flex-wrap: wrap; gap: 1em; }
.heatmap img { display: block; max-width: 360px; }
img.panel { max-width: 100%; }
.up { color: #1a7f2a; } .down { color: #c62828; } .same { color: #888; }
"""


def _setup_html(report: dict) -> str:
    """What the figures come from: the objects and the model, each with what it means for them."""
    missing = "".join(f'<dd class="missing">{html.escape(line)}</dd>' for line in report["missing_weights"])
    return (
        '<dl class="setup">'
        f"<dt>Objects</dt><dd>{html.escape(report['object_source'])}. {html.escape(report['objects_meaning'])}</dd>"
        f"{missing}"
        f"<dt>Model</dt><dd>{html.escape(report['model'])}. {html.escape(report['model_meaning'])}</dd>"
        "</dl>"
    )


def _timings_html(timings: dict) -> str:
    return (
        "<ul>"
        + "".join(f"<li>{html.escape(stage)}: {seconds:.0f} s</li>" for stage, seconds in timings.items())
        + "</ul>"
    )


def render_html(report: dict) -> str:
    """The report as one self-contained HTML page (images referenced by relative path): what was run and what it
    means, the headline tables, then the details per sample set."""
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in report["notes"])
    headlines = "\n".join(_headline_html(group) for group in report["groups"])
    groups = "\n".join(_group_html(group) for group in report["groups"])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(report['title'])}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(report['title'])}</h1>\n{_setup_html(report)}\n"
        "<h2>Results: mIoU and OA of the pooled tiles (x100), change against the unrefined prediction</h2>\n"
        f"{headlines}\n"
        "<h2>Details</h2>"
        f"<p>Generated {html.escape(report['generated_utc'])}; this run took {report['wall_time_s']:.0f} s "
        "(a rerun reuses finished stages). Figures x100; the same figures are in report.json, with the confusion "
        f"matrices in metrics.json.</p><ul>{notes}</ul>"
        f"<details><summary>Time per stage</summary>{_timings_html(report['timings_s'])}</details>\n"
        f"{groups}\n</body></html>\n"
    )


def referenced_images(report: dict) -> list[str]:
    """Every image path the report refers to (relative to the report's folder)."""
    paths = [panel["image"] for group in report["groups"] for panel in group["panels"]]
    paths += [h["image"] for group in report["groups"] for h in group["heatmaps"] if h["image"]]
    return paths


def write_report(out_dir: Path, report: dict) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.json`` into ``out_dir`` (atomically); every referenced image must exist.

    ``report`` holds ``title``, ``generated_utc``, ``wall_time_s``, ``timings_s``, ``object_source``,
    ``objects_meaning``, ``model``, ``model_meaning``, ``missing_weights`` (one line each), ``notes`` and
    ``groups``; each group: ``key``, ``label``, ``dataset``, ``classes`` (scored class names), ``tiles``,
    ``headline`` (per method: ``method``, ``label`` and per protocol key its mIoU and OA), ``sessrs_refined``
    (per protocol key the classes SESSRS refined), ``protocols`` (``key``,
    ``title``, ``description``, ``folds``, ``rows``), ``heatmaps`` (:func:`heatmap_from_sweep`) and ``panels``
    (``tile``, ``image`` and the counts of :func:`save_tile_panel`)."""
    missing = [p for p in referenced_images(report) if not (out_dir / p).is_file()]
    if missing:
        raise FileNotFoundError(f"report in {out_dir} refers to missing images: {missing}")
    html_path, json_path = out_dir / "report.html", out_dir / "report.json"
    write_text_atomic(html_path, render_html(report))
    write_json_atomic(json_path, report)
    return html_path, json_path
