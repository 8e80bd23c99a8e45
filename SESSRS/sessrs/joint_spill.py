"""One image's :class:`~sessrs.joint_engine.ImageEvaluator` kept on disk between the steps of a joint search.

An evaluator is split in two files: what never changes during a search (the prepared image without what is
cheap to derive again, the ground truth, the step-3 reducers), written once, and what a commit changes (the
painting, the confusion matrix, the settings, the refinements the painting holds, the filled predictions made so
far), written again only when it changed. Loading both gives back an evaluator that scores exactly as the one
saved: everything left out is a cache that is derived again on demand.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from .joint_engine import ImageEvaluator
from .painting import Painting

FIXED = ("prepared", "flat_gt", "max_objects", "options", "baseline", "_reducers", "_major", "_share")
CHANGING = ("matrix", "settings", "_cache", "_distinct")
PAINTED = ("order", "refinements", "settlements", "values", "sets", "claims", "_settled")
DERIVED = ("flat_pred", "flat_inst", "scratch", "_object_overlaps", "_instance_pixels", "_class_pixels", "_fills")
"""Caches of a prepared image left out of the fixed file (``_fills`` goes with the changing part: it grows)."""


@dataclass
class SpilledImage:
    """Where one image's evaluator is kept on disk, and what its changing part was when last written."""

    folder: Path
    stem: str
    written: tuple | None = None

    @property
    def fixed_path(self) -> Path:
        return self.folder / f"{self.stem}.fixed.pickle"

    @property
    def changing_path(self) -> Path:
        return self.folder / f"{self.stem}.changing.pickle"

    def save(self, evaluator: ImageEvaluator) -> None:
        """Write the evaluator: its fixed part the first time, its changing part whenever it changed."""
        if not self.fixed_path.exists():
            prepared = evaluator.prepared
            kept = {name: value for name, value in vars(prepared).items() if name not in DERIVED}
            fixed = {name: getattr(evaluator, name) for name in FIXED}
            fixed["prepared"] = (type(prepared), kept)
            _dump(fixed, self.fixed_path)
        if self.written != _version(evaluator):
            painting = evaluator.painting
            changing = {name: getattr(evaluator, name) for name in CHANGING}
            changing["painting"] = {name: getattr(painting, name) for name in PAINTED}
            changing["fills"] = evaluator.prepared._fills
            _dump(changing, self.changing_path)
            self.written = _version(evaluator)

    def load(self) -> ImageEvaluator:
        """The evaluator as last saved."""
        fixed, changing = _read(self.fixed_path), _read(self.changing_path)
        kind, kept = fixed["prepared"]
        prepared = kind.__new__(kind)
        vars(prepared).update(kept, _fills=changing["fills"], _object_overlaps={}, _instance_pixels={},
                              _class_pixels={})
        evaluator = ImageEvaluator.__new__(ImageEvaluator)
        vars(evaluator).update(fixed, prepared=prepared, _unions={}, _scores={})
        vars(evaluator).update({name: changing[name] for name in CHANGING})
        painting = Painting.__new__(Painting)
        vars(painting).update(changing["painting"], prepared=prepared, options=evaluator.options, _near={})
        evaluator.painting = painting
        return evaluator

    def remove(self) -> None:
        self.fixed_path.unlink(missing_ok=True)
        self.changing_path.unlink(missing_ok=True)


def _version(evaluator: ImageEvaluator) -> tuple:
    """Changes when the changing part does: on a commit, or when a filled prediction is added."""
    return evaluator.settings, tuple(evaluator.prepared._fills)


def _dump(value: object, path: Path) -> None:
    with open(path, "wb") as stream:
        pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)


def _read(path: Path) -> dict:
    with open(path, "rb") as stream:
        return pickle.load(stream)


def footprint(value: object, seen: set[int] | None = None) -> int:
    """Bytes held by the arrays reachable from ``value`` (objects, containers, sparse matrices), each counted once."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return value.nbytes if value.base is None else 0
    if sparse.issparse(value):
        return sum(footprint(getattr(value, name), seen) for name in ("data", "indices", "indptr", "row", "col")
                   if hasattr(value, name))
    if isinstance(value, dict):
        return sum(footprint(k, seen) + footprint(v, seen) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(footprint(item, seen) for item in value)
    if hasattr(value, "__dict__"):
        return footprint(vars(value), seen)
    return 0
