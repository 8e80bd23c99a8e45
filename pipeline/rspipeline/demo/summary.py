"""The demo's closing answer on the terminal: per sample set, each method's mIoU and OA under both protocols."""

from __future__ import annotations

from collections.abc import Sequence

from .protocols import PROTOCOLS

LABEL_WIDTH = 26
PROTOCOL_HEADINGS = {"reference": "reference protocol", "held_out": "held-out protocol"}


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _change(value: float | None, baseline: float | None) -> str:
    return "" if value is None or baseline is None else f"{value - baseline:+.2f}"


def summary_table(group: dict) -> list[str]:
    """The lines of one set's table: methods down; per protocol mIoU, its change against unrefined, and OA."""
    protocols = [key for key in PROTOCOLS if key in group["headline"][0]]
    unrefined = group["headline"][0]
    lines = [
        f"{group['label']}, {len(group['tiles'])} tiles",
        " " * LABEL_WIDTH + "".join(f"{PROTOCOL_HEADINGS[p]:^24}" for p in protocols),
        f"{'method':<{LABEL_WIDTH}}" + f"{'mIoU':>8}{'change':>8}{'OA':>8}" * len(protocols),
    ]
    for row in group["headline"]:
        cells = "".join(
            f"{_figure(row[p]['mIoU']):>8}"
            f"{'' if row is unrefined else _change(row[p]['mIoU'], unrefined[p]['mIoU']):>8}"
            f"{_figure(row[p]['OA']):>8}"
            for p in protocols
        )
        lines.append(f"{row['label']:<{LABEL_WIDTH}}{cells}")
    lines.append(
        "classes the per-class pick refined: "
        + "; ".join(
            f"{PROTOCOL_HEADINGS[p].split()[0]}: {', '.join(group['sessrs_refined'][p]) or 'none'}" for p in protocols
        )
    )
    if len(protocols) < len(PROTOCOLS):
        lines.append("(one tile only: no held-out protocol)")
    return lines


def summary_lines(groups: Sequence[dict], report_path: str) -> list[str]:
    """Every set's table, then where the report is."""
    lines = []
    for group in groups:
        lines += ["", *summary_table(group)]
    return [
        *lines,
        "",
        "Figures x100 (mIoU and OA of the pooled tiles); per class, thresholds, heatmaps and "
        "tile panels in the report:",
        report_path,
    ]
