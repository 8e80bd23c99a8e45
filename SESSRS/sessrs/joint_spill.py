"""One image's :class:`~sessrs.joint_engine.ImageEvaluator` kept on disk between the steps of a joint search.

Three files per image. The arrays a search never changes (prediction, instance map, ground truth, object pixels)
are written once, raw, into one file that a load memory-maps read-only: loading copies none of them, and a step
reads only the pages it looks at. What else never changes (small arrays and caches) is pickled once. What a commit
changes (the painting's values and claims, settings, confusion matrix, the refinements the painting holds, the
filled predictions and the objects' overlaps with instances measured so far) is pickled whenever it changed,
written over the previous version in place (replacing a file costs the system more than overwriting it). Every
other cache is derived again on demand, so a loaded evaluator scores exactly as the one saved.
"""

from __future__ import annotations

import errno
import math
import mmap
import os
import pickle
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from scipy import sparse

from rscommon.files import InputError
from rscommon.locks import process_alive

from .joint_engine import ImageEvaluator
from .painting import Painting

SPILL_PREFIX = "sessrs-joint-"
Result = TypeVar("Result")

FIXED = ("max_objects", "options", "baseline", "_reducers", "_major", "_share")
CHANGING = ("matrix", "settings", "_cache", "_distinct")
PAINTED = ("order", "refinements", "settlements", "sets", "_settled", "values", "claims")
MAPPED = ("pred", "flat_pred", "inst_map")
"""Arrays of a prepared image kept in the mapped file, with the ground truth and the object pixels."""
DERIVED = ("flat_inst", "scratch", "area_position", "_instance_pixels", "_class_pixels")
"""Caches of a prepared image derived again after loading."""
OUTSIDE_FIXED = (*MAPPED, *DERIVED, "obj_pixels", "_fills", "_filled", "_object_overlaps")


def spill_folder(root: Path | None = None) -> Path:
    """A new folder for a process's images on disk: in ``root`` (a folder of the search's), or else in the system's
    temporary folder (``TMPDIR``).

    A search killed by the system cannot remove its folder: in the system's temporary folder, the folders of this
    host's processes that no longer run are removed first."""
    if root is not None:
        return _made(root, lambda: Path(tempfile.mkdtemp(prefix="shard-", dir=root)))
    root, host = Path(tempfile.gettempdir()), socket.gethostname()
    for folder in root.glob(f"{SPILL_PREFIX}*"):
        owner, _, _ = folder.name[len(SPILL_PREFIX) :].rpartition("-")
        owner_host, _, pid = owner.rpartition("-")
        if owner_host == host and pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    return _made(root, lambda: Path(tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{host}-{os.getpid()}-", dir=root)))


def _made(folder: Path, make: Callable[[], Result]) -> Result:
    """``make()``, which writes in ``folder``; a full disk there said in one line (:func:`no_space`)."""
    try:
        return make()
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise no_space(folder) from error
        raise


def no_space(folder: Path) -> InputError:
    """The error of a full disk under the joint search's images kept on disk, naming the folder and ``TMPDIR``."""
    return InputError(
        f"{folder}: no space left on the device for the joint search's images kept on disk: free space there, set "
        f"TMPDIR to a folder with room (now {os.environ.get('TMPDIR', 'unset')}), or raise --memory-limit"
    )


def version(evaluator: ImageEvaluator) -> tuple:
    """Changes when the changing part does: on a commit, a filled prediction or a newly measured object."""
    prepared = evaluator.prepared
    return evaluator.settings, frozenset(prepared._filled), len(prepared._object_overlaps)


@dataclass
class SpilledImage:
    """Where one image's evaluator is kept on disk, and what of it was last written."""

    folder: Path
    stem: str
    written: tuple | None = None
    """The version of the changing part on disk (None: nothing written yet)."""

    @property
    def stored(self) -> bool:
        return self.written is not None

    def path(self, kind: str) -> Path:
        return self.folder / f"{self.stem}.{kind}"

    def save(self, evaluator: ImageEvaluator) -> None:
        """Write what is not on disk yet: everything the first time, then the changing part when it changed (a full
        disk is said in one line, :func:`no_space`)."""
        _made(self.folder, lambda: self._save(evaluator))

    def _save(self, evaluator: ImageEvaluator) -> None:
        prepared, painting = evaluator.prepared, evaluator.painting
        if not self.stored:
            objects = np.concatenate([np.zeros(0, np.int64), *prepared.obj_pixels])
            mapped = {name: getattr(prepared, name) for name in MAPPED}
            layout = _write_raw(self.path("mapped"), {**mapped, "flat_gt": evaluator.flat_gt, "objects": objects})
            kept = {name: value for name, value in vars(prepared).items() if name not in OUTSIDE_FIXED}
            fixed = {name: getattr(evaluator, name) for name in FIXED}
            offsets = np.cumsum([0, *map(len, prepared.obj_pixels)]).tolist()
            _write_over(
                self.path("fixed"), {**fixed, "prepared": (type(prepared), kept), "layout": layout, "offsets": offsets}
            )
        if self.written != version(evaluator):
            changing = {name: getattr(evaluator, name) for name in CHANGING}
            changing["painting"] = {name: getattr(painting, name) for name in PAINTED}
            changing["fills"] = prepared._fills, prepared._filled
            changing["overlaps"] = {
                index: (np.flatnonzero(counts).astype(np.int32), counts[counts > 0].astype(np.int32))
                for index, counts in prepared._object_overlaps.items()
            }
            _write_over(self.path("changing"), changing)
            self.written = version(evaluator)

    def load(self) -> ImageEvaluator:
        """The evaluator as last saved, its unchanging arrays mapped from their file."""
        fixed, changing = _read(self.path("fixed")), _read(self.path("changing"))
        kind, kept = fixed.pop("prepared")
        arrays = _map_raw(self.path("mapped"), fixed.pop("layout"))
        offsets = fixed.pop("offsets")
        objects = arrays.pop("objects")
        prepared = kind.__new__(kind)
        fills, filled = changing.pop("fills")
        instances = len(kept["inst_class"])
        vars(prepared).update(
            kept,
            **{name: arrays[name] for name in MAPPED},
            obj_pixels=[objects[start:end] for start, end in zip(offsets[:-1], offsets[1:])],
            _fills=fills,
            _filled=filled,
            _object_overlaps={index: _dense(pair, instances) for index, pair in changing.pop("overlaps").items()},
            _instance_pixels={},
            _class_pixels={},
        )
        evaluator = ImageEvaluator.__new__(ImageEvaluator)
        vars(evaluator).update(fixed, prepared=prepared, flat_gt=arrays["flat_gt"], _unions={}, _scores={})
        vars(evaluator).update({name: changing[name] for name in CHANGING})
        painting = Painting.__new__(Painting)
        vars(painting).update(changing["painting"], prepared=prepared, options=evaluator.options, _near={})
        evaluator.painting = painting
        return evaluator


def _dense(pair: tuple[np.ndarray, np.ndarray], length: int) -> np.ndarray:
    counts = np.zeros(length, np.int64)
    counts[pair[0]] = pair[1]
    return counts


def _write_raw(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, tuple]:
    """Write the arrays' bytes one after another; their layout (dtype, shape, order, offset) by name."""
    layout, offset = {}, 0
    with open(path, "wb") as stream:
        for name, array in arrays.items():
            order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
            data = array.tobytes(order=order)
            layout[name] = (array.dtype.str, array.shape, order, offset)
            stream.write(data)
            offset += len(data)
    return layout


def _map_raw(path: Path, layout: dict[str, tuple]) -> dict[str, np.ndarray]:
    """The arrays of :func:`_write_raw`, read-only views of the file memory-mapped."""
    with open(path, "rb") as stream:
        mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    return {
        name: np.frombuffer(mapped, dtype, math.prod(shape), offset).reshape(shape, order=order)
        for name, (dtype, shape, order, offset) in layout.items()
    }


def _write_over(path: Path, value: object) -> None:
    """Pickle ``value`` over the file's previous content in place (cut to its new length)."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as stream:
        pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
        stream.truncate()


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
