"""Checks at the stage's file boundaries: a sweep read back before it is used.

Each refusal is one :class:`InputError` line naming the file and the field.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, read_json

from .thresholds import threshold_value

SWEEP_KEYS = ("classes", "baseline", "sweeps")


def finite_number(value: Any, where: str) -> float:
    """A finite number (not a bool); NaN (JSON null), infinities and strings are refused naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        shown = "null (NaN)" if value is None else repr(value)
        raise InputError(f"{where}: {shown} is not a finite number")
    return float(value)


def check_sweep(sweep: Any, spec: DatasetSpec, source: str | Path = "sweep") -> dict:
    """Validate a sweep's content (see :func:`sessrs.sweep.summarise`) for ``spec``; returns it unchanged.

    The class names must be the dataset's, the baseline mIoU finite, ``sweeps`` a mapping of class ids of the
    dataset to rows, each row with ``t1``/``t2`` in (0, 1] and a finite ``mIoU``.
    """
    if not isinstance(sweep, Mapping):
        raise InputError(f"{source}: expected a JSON object with {', '.join(SWEEP_KEYS)}, found {type(sweep).__name__}")
    missing = [key for key in SWEEP_KEYS if key not in sweep]
    if missing:
        raise InputError(f"{source}: missing key {missing[0]!r} (not a sweep.json written by sessrs_t1_t2.py)")
    if not isinstance(sweep["classes"], list) or sweep["classes"] != list(spec.classes):
        raise InputError(f"{source}: classes {sweep['classes']!r} are not {spec.name}'s {list(spec.classes)} "
                         "(a sweep of another dataset?)")
    if not isinstance(sweep["baseline"], Mapping):
        raise InputError(f"{source}: baseline must be an object of figures")
    finite_number(sweep["baseline"].get("mIoU"), f"{source}: baseline.mIoU")
    if not isinstance(sweep["sweeps"], Mapping):
        raise InputError(f"{source}: sweeps must map class ids to rows, found {type(sweep['sweeps']).__name__}")
    for key, rows in sweep["sweeps"].items():
        if not (isinstance(key, str) and key.isdecimal() and int(key) < spec.num_classes):
            raise InputError(f"{source}: sweeps: {key!r} is not a class id of {spec.name} (0..{spec.num_classes - 1})")
        if not isinstance(rows, list) or not rows:
            raise InputError(f"{source}: sweeps[{key!r}] must be a non-empty list of rows")
        for index, row in enumerate(rows):
            where = f"{source}: sweeps[{key!r}][{index}]"
            if not isinstance(row, Mapping):
                raise InputError(f"{where}: expected an object with t1, t2, mIoU")
            for field in ("t1", "t2", "mIoU"):
                if field not in row:
                    raise InputError(f"{where}: missing key {field!r}")
            threshold_value(row["t1"], f"{where}.t1")
            threshold_value(row["t2"], f"{where}.t2")
            finite_number(row["mIoU"], f"{where}.mIoU")
    return dict(sweep)


def read_sweep(path: str | Path, spec: DatasetSpec) -> dict:
    """Read and validate a ``sweep.json`` for ``spec`` (see :func:`check_sweep`)."""
    return check_sweep(read_json(path), spec, path)
