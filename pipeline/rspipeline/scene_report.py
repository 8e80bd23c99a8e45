"""What a scene run changed, beside the output (``OUT.report.json``) and in its last terminal lines.

Per class: the pixels changed to it and from it (the refined scene against the prediction, counted over the
pixels with data), and their shares of those pixels. The shares are compared with what the thresholds changed on
the images they were tuned on (``tuned_changes`` of a ``best.json`` written by the pick or sessrs_tune.py, or of
a preset): a class changing far more of the scene (more than :data:`WARN_RATIO` times its tuned share, and at
least :data:`WARN_MIN_SHARE` of the scene) is warned about, since the scene then differs from what the
thresholds were chosen on. Without tuned figures, the report says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, read_json, write_json_atomic
from sessrs.presets import PRESET_PREFIX, read_preset

WARN_RATIO = 3.0
WARN_MIN_SHARE = 0.005


def report_path(out: Path) -> Path:
    """The run report beside the output ``out``."""
    return out.with_name(out.name + ".report.json")


def tuned_changes(thresholds: str | Path, spec: DatasetSpec) -> tuple[dict | None, str]:
    """The ``tuned_changes`` recorded with the thresholds (``preset:NAME`` or a ``best.json``), checked for
    ``spec`` (:func:`check_tuned_changes`), and where from."""
    text = str(thresholds)
    if text.startswith(PRESET_PREFIX):
        record = read_preset(text.removeprefix(PRESET_PREFIX)).record
        return check_tuned_changes(
            record.get("tuned_changes"), spec, text
        ), f"preset {text.removeprefix(PRESET_PREFIX)}"
    record = read_json(thresholds)
    if not isinstance(record, Mapping):
        return None, Path(text).name
    tuned_on = record.get("tuned_on")
    where = f"{Path(text).name}, tuned on {len(tuned_on)} images" if isinstance(tuned_on, list) else Path(text).name
    return check_tuned_changes(record.get("tuned_changes"), spec, thresholds), where


def check_tuned_changes(changes: Any, spec: DatasetSpec, source: str | Path) -> dict | None:
    """``changes`` when it is ``None`` or maps ``spec``'s class names to ``{"to": share, "from": share, ...}``
    (shares in [0, 1]); anything else is one :class:`InputError` line naming ``source``."""
    if changes is None:
        return None
    if not isinstance(changes, Mapping):
        raise InputError(f"{source}: tuned_changes must map class names to shares, found {type(changes).__name__}")
    unknown = sorted(str(name) for name in changes if name not in spec.classes)
    if unknown:
        raise InputError(
            f"{source}: tuned_changes names classes {unknown[:5]} that are not {spec.name}'s (tuned for another "
            "dataset?); give the --dataset the thresholds were tuned for"
        )
    for name, row in changes.items():
        for direction in ("to", "from"):
            share = row.get(direction) if isinstance(row, Mapping) else None
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
                raise InputError(f"{source}: tuned_changes[{name!r}].{direction}: {share!r} is not a share in [0, 1]")
    return dict(changes)


def change_report(counts: np.ndarray, spec: DatasetSpec, tuned: Mapping | None, source: str) -> dict:
    """The report of ``counts`` (pixels with data by predicted class x refined class) against ``tuned``."""
    total = int(counts.sum())
    changed = counts - np.diag(np.diag(counts))
    classes, warnings = {}, []
    for c, name in enumerate(spec.classes):
        row = {"to": int(changed[:, c].sum()), "from": int(changed[c].sum())}
        for direction in ("to", "from"):
            share = row[direction] / max(total, 1)
            row[f"{direction}_share"] = round(share, 6)
            if tuned is None or name not in tuned:
                continue
            before = float(tuned[name][direction])
            row[f"tuned_{direction}_share"] = before
            if share >= WARN_MIN_SHARE and share > WARN_RATIO * before:
                warnings.append(
                    f"{name}: {100 * share:.2f}% of the scene changed {direction} it, "
                    f"{100 * before:.2f}% on the images the thresholds were tuned on ({source}); "
                    "this scene may differ from them: check it, or tune on a few labelled areas of it "
                    "(sessrs_tune.py)"
                )
        classes[name] = row
    return {
        "data_pixels": total,
        "changed_pixels": int(changed.sum()),
        "classes": classes,
        "tuned": source if tuned is not None else None,
        "note": None if tuned is not None else f"no tuned figures are recorded with {source}",
        "warnings": warnings,
    }


def write_report(out: Path, report: dict) -> Path:
    """Write ``report`` beside ``out``; returns its path."""
    path = report_path(out)
    write_json_atomic(path, report)
    return path


def report_lines(report: dict) -> list[str]:
    """The report's terminal lines: the classes that changed, then the note or the warnings."""
    total = max(report["data_pixels"], 1)
    parts = [
        f"{name} +{100 * row['to'] / total:.2f}% -{100 * row['from'] / total:.2f}%"
        for name, row in report["classes"].items()
        if row["to"] or row["from"]
    ]
    lines = [
        f"refined in {report['mode']} mode, max_objects {report['max_objects']}; changed "
        f"{100 * report['changed_pixels'] / total:.2f}% of the pixels with data"
        + (f": {', '.join(parts)}" if parts else "")
    ]
    lines += [f"note: {report['note']}"] if report["note"] else []
    return lines + [f"warning: {warning}" for warning in report["warnings"]]
