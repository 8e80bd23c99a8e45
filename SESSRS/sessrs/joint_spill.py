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
DERIVED = (
    "flat_pred",
    "flat_inst",
    "scratch",
    "area_position",
    "_object_overlaps",
    "_instance_pixels",
    "_class_pixels",
    "_fills",
    "_filled",
)
"""Caches of a prepared image left out of the fixed file (the filled predictions go with the changing part: they
grow)."""


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
            changing["fills"] = evaluator.prepared._fills, evaluator.prepared._filled
            _dump(changing, self.changing_path)
            self.written = _version(evaluator)

    def load(self) -> ImageEvaluator:
        """The evaluator as last saved."""
        fixed, changing = _read(self.fixed_path), _read(self.changing_path)
        kind, kept = fixed["prepared"]
        prepared = kind.__new__(kind)
        fills, filled = changing["fills"]
        vars(prepared).update(
            kept, _fills=fills, _filled=filled, _object_overlaps={}, _instance_pixels={}, _class_pixels={}
        )
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
    return evaluator.settings, frozenset(evaluator.prepared._filled)


def _dump(value: object, path: Path) -> None:
    with open(path, "wb") as stream:
        pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)


def _read(path: Path) -> dict:
    with open(path, "rb") as stream:
        return pickle.load(stream)


_SCALARS = (int, float, bool, str, bytes, type(None), np.generic)
_SPARSE_PARTS = ("data", "indices", "indptr", "row", "col")


def footprint(value: object) -> int:
    """Bytes held by the arrays reachable from ``value`` (objects, containers, sparse matrices), each counted once.

    A view holds the memory of the array it views (counted once, through that array); an array over another
    buffer (as unpickled arrays are) holds its own bytes."""
    total, seen, pending = 0, set(), [value]
    while pending:
        item = pending.pop()
        if isinstance(item, _SCALARS) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            if isinstance(item.base, np.ndarray):
                pending.append(item.base)
            else:
                total += item.nbytes
        elif isinstance(item, dict):
            pending += item.keys()
            pending += item.values()
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending += item
        elif sparse.issparse(item):
            pending += [getattr(item, name) for name in _SPARSE_PARTS if hasattr(item, name)]
        elif hasattr(item, "__dict__"):
            pending.append(vars(item))
    return total
