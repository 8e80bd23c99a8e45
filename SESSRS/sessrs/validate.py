"""Checks at the stage's file boundaries: a sweep read back before it is used, and what it was tuned on.

Each refusal is one :class:`InputError` line naming the file and the field. A sweep's records written by an older
release read the same as new ones (:func:`current_keys`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, read_json

from .inputs import IDENTITY, Sample, image_identity
from .thresholds import threshold_value

SWEEP_KEYS = ("classes", "baseline", "sweeps")
RENAMED_KEYS = {"scenes": "images"}
"""Keys of a sweep's records (``sweep.json``, ``run.json``) by their names in older releases."""


def current_keys(record: Mapping) -> dict:
    """``record`` with the keys older releases named otherwise under their current names (``scenes``, the images
    swept, is now ``images``), so that an old ``sweep.json`` or ``run.json`` reads the same as a new one."""
    return {RENAMED_KEYS.get(key, key): value for key, value in record.items()}


def sweep_images(sweep: Mapping) -> list[str]:
    """The names of the images a sweep was made of, in its order (none when it does not record them)."""
    return list(current_keys(sweep).get("images", []))


def finite_number(value: Any, where: str) -> float:
    """A finite number (not a bool); NaN (JSON null), infinities and strings are refused naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        shown = "null (NaN)" if value is None else repr(value)
        raise InputError(f"{where}: {shown} is not a finite number")
    return float(value)


def check_sweep(sweep: Any, spec: DatasetSpec, source: str | Path = "sweep") -> dict:
    """Validate a sweep's content (see :func:`sessrs.sweep.summarise`) for ``spec``; returns it with its keys'
    current names (see :func:`current_keys`).

    The class names must be the dataset's, the baseline mIoU finite, ``sweeps`` a mapping of class ids of the
    dataset to rows, each row with ``t1``/``t2`` in (0, 1] and a finite ``mIoU``.
    """
    if not isinstance(sweep, Mapping):
        raise InputError(f"{source}: expected a JSON object with {', '.join(SWEEP_KEYS)}, found {type(sweep).__name__}")
    missing = [key for key in SWEEP_KEYS if key not in sweep]
    if missing:
        raise InputError(f"{source}: missing key {missing[0]!r} (not a sweep.json written by sessrs_t1_t2.py)")
    if not isinstance(sweep["classes"], list) or sweep["classes"] != list(spec.classes):
        raise InputError(
            f"{source}: classes {sweep['classes']!r} are not {spec.name}'s {list(spec.classes)} "
            "(a sweep of another dataset?)"
        )
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
    return current_keys(sweep)


def read_sweep(path: str | Path, spec: DatasetSpec) -> dict:
    """Read and validate a ``sweep.json`` for ``spec`` (see :func:`check_sweep`)."""
    return check_sweep(read_json(path), spec, path)


def check_held_out(
    sweep: Mapping, tune: Sequence[Sample], evaluate: Sequence[Sample], spec: DatasetSpec, source: str | Path = "sweep"
) -> None:
    """Refuse a sweep for a held-out pick unless it was tuned on exactly the ``tune`` images (by name and the
    decoded content of their prediction, objects and, when given, ground truth) and on none of the ``evaluate``
    images (by name, or by the decoded content of their prediction and objects: a copy saved again counts)."""
    tuned = sweep.get("tuned_on")
    if not (isinstance(tuned, list) and all(isinstance(i, Mapping) and "pred" in i for i in tuned)):
        raise InputError(
            f"{source}: does not record the content of the images it was tuned on; sweep again with "
            "this split to pick held out"
        )
    if any(image.get("identity") != IDENTITY for image in tuned):
        raise InputError(
            f"{source}: records the bytes of the images it was tuned on, not what they decode to (an older "
            "sweep); sweep again with this split to pick held out"
        )
    by_name = {str(image.get("name")): image for image in tuned}
    wanted = {sample.stem: sample for sample in tune}
    extra, missing = sorted(by_name.keys() - wanted.keys()), sorted(wanted.keys() - by_name.keys())
    if extra or missing or len(by_name) != len(tuned):
        raise InputError(
            f"{source}: tuned on other images than the split's tune list (swept, not in it: "
            f"{', '.join(extra) or 'none'}; in it, not swept: {', '.join(missing) or 'none'}); "
            "sweep again with this split"
        )
    for stem, sample in wanted.items():
        identity = image_identity(sample, spec)
        changed = [kind for kind, sha in identity.items() if sha is not None and by_name[stem].get(kind) != sha]
        if changed:
            raise InputError(
                f"{source}: tune image {stem}: its {', '.join(changed)} changed since the sweep; sweep again"
            )
    seen = {(image.get("pred"), image.get("sam")): name for name, image in by_name.items()}
    for sample in evaluate:
        identity = image_identity(sample, spec)
        twin = seen.get((identity["pred"], identity["sam"]))
        if sample.stem in by_name or twin is not None:
            raise InputError(
                f"{source}: evaluation image {sample.stem} was tuned on (as {twin or sample.stem}); "
                "it cannot be held out"
            )
