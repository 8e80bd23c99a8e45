"""The reference's per-class pick: each class's best thresholds from a sweep."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rscommon.datasets import DatasetSpec, get_dataset
from rscommon.files import InputError

from .thresholds import NEVER, Thresholds
from .validate import check_sweep, read_sweep


def threshold_limit(mode: str | float) -> float:
    """The largest picked t1 that puts a class into ``modify``: ``all`` means 0.99, else the number given."""
    if str(mode) == "all":
        return 0.99
    try:
        limit = float(mode)
    except ValueError:
        limit = float("nan")
    if not 0 < limit <= 1:
        raise InputError(f"threshold mode {mode!r} must be 'all' or a number in (0, 1]")
    return limit


def pick_thresholds(sweep: Mapping | str | Path, dataset: DatasetSpec | str, mode: str | float = 0.7) -> Thresholds:
    """Per class the entry of highest mIoU (first on a tie, the unrefined entry first), as the reference does.

    ``sweep`` is a ``sweep.json`` (its path or its content), validated against ``dataset``. Every class of the
    dataset gets a ``t1``/``t2`` (1 when not refined); a class is in ``modify`` when its pick is not the unrefined
    entry and its t1 is at most the mode's limit (``all``: 0.99).
    """
    spec = get_dataset(dataset) if isinstance(dataset, str) else dataset
    limit = threshold_limit(mode)
    sweep = read_sweep(sweep, spec) if isinstance(sweep, (str, Path)) else check_sweep(sweep, spec)
    t1 = dict.fromkeys(range(spec.num_classes), NEVER)
    t2 = dict.fromkeys(range(spec.num_classes), NEVER)
    for key, rows in sweep["sweeps"].items():
        entries = [{"t1": NEVER, "t2": NEVER, "mIoU": sweep["baseline"]["mIoU"]}, *rows]
        best = max(entries, key=lambda entry: entry["mIoU"])
        t1[int(key)], t2[int(key)] = float(best["t1"]), float(best["t2"])
    return Thresholds(t1=t1, t2=t2, modify=tuple(c for c in range(spec.num_classes) if t1[c] <= limit))
