"""Pair predictions with their SAM objects and ground truth, and load them as prepared images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, read_json
from rscommon.labels import check_classes, read_label_png
from rscommon.objects import read_objects
from rscommon.provenance import array_digest, file_identity
from rscommon.rle import rle_pixels

from .prepared import PreparedImage, prepare_image


@dataclass(frozen=True)
class Sample:
    """The files of one image: its prediction, its SAM objects and (optionally) its ground truth.

    The paths are made absolute here, from the current folder, so that a worker of a cluster (with a working
    folder of its own) reads the same files as the process that made the sample.
    """

    stem: str
    pred: Path
    sam: Path
    gt: Path | None

    def __post_init__(self) -> None:
        for kind in ("pred", "sam", "gt"):
            path = getattr(self, kind)
            if path is not None:
                object.__setattr__(self, kind, absolute(path))


def absolute(path: str | Path) -> Path:
    """``path`` made absolute from the current folder (``~`` expanded, ``..`` and links resolved)."""
    return Path(path).expanduser().resolve()


def pair_inputs(pred_dir: str | Path, sam_dir: str | Path, gt_dir: str | Path | None) -> list[Sample]:
    """One sample per ``*.png`` prediction; every prediction must have ``<stem>.json`` (and ``<stem>.png`` GT).

    The samples' paths are absolute (relative folders are taken from the current folder). Extra files in the
    object and ground-truth folders are ignored. All missing partners are listed at once.
    """
    pred_dir, sam_dir = absolute(pred_dir), absolute(sam_dir)
    gt_dir = absolute(gt_dir) if gt_dir is not None else None
    for folder in (pred_dir, sam_dir, *([gt_dir] if gt_dir is not None else [])):
        if not folder.is_dir():
            raise InputError(f"{folder}: folder not found")
    preds = sorted(pred_dir.glob("*.png"))
    if not preds:
        raise InputError(f"{pred_dir}: no *.png predictions")
    samples, missing = [], []
    for pred in preds:
        sam = sam_dir / f"{pred.stem}.json"
        gt = gt_dir / pred.name if gt_dir is not None else None
        missing += [str(path) for path in (sam, gt) if path is not None and not path.is_file()]
        samples.append(Sample(pred.stem, pred, sam, gt))
    if missing:
        raise InputError(
            f"{len(missing)} input files missing for the predictions in {pred_dir}:\n  " + "\n  ".join(missing)
        )
    return samples


def input_folders(samples: Sequence[Sample]) -> dict[str, Path | None]:
    """The folders the samples are read from, by kind (no output may be written into one of them)."""
    first = samples[0]
    return {
        "prediction": first.pred.parent,
        "objects": first.sam.parent,
        "ground-truth": first.gt.parent if first.gt is not None else None,
    }


def load_prediction(path: Path, spec: DatasetSpec) -> np.ndarray:
    """A prediction as class indices, every value a class of the dataset."""
    pred = read_label_png(path, spec)
    check_classes(pred, spec.num_classes, path)
    return pred


def load_ground_truth(sample: Sample, spec: DatasetSpec, shape: tuple[int, int]) -> np.ndarray:
    """The ground truth of ``sample``, the same size as its prediction (ignore values are kept)."""
    gt = read_label_png(sample.gt, spec)
    if gt.shape != shape:
        raise InputError(f"{sample.gt}: size {gt.shape[::-1]} differs from the prediction's {shape[::-1]}")
    return gt


def load_prepared(sample: Sample, spec: DatasetSpec) -> PreparedImage:
    """Read and validate a sample's prediction and objects into a :class:`PreparedImage`."""
    pred = load_prediction(sample.pred, spec)
    objects = read_objects(sample.sam, pred.shape)
    return prepare_image(pred, objects, spec.num_classes)


def select(samples: Sequence[Sample], stems: Sequence[str] | None, source: str | Path) -> list[Sample]:
    """The samples named in ``stems`` (all when None); a name without a sample is an error."""
    if stems is None:
        return list(samples)
    twice = sorted({stem for stem in stems if list(stems).count(stem) > 1})
    if twice:
        raise InputError(f"{source}: names images twice: {', '.join(twice)}")
    known = {s.stem: s for s in samples}
    missing = [stem for stem in stems if stem not in known]
    if missing:
        raise InputError(f"{source}: names images without a prediction: {', '.join(missing)}")
    return [known[stem] for stem in stems]


def read_split(path: str | Path) -> dict[str, list[str]]:
    """A split file: ``{"tune": [stems], "eval": [stems]}``, thresholds chosen on one, reported on the other.

    Both lists must be non-empty lists of image names, with no name twice (in one list or in both).
    """
    split = read_json(path)
    if not isinstance(split, dict):
        raise InputError(f'{path}: a split file holds {{"tune": [image names], "eval": [image names]}}')
    for key in ("tune", "eval"):
        names = split.get(key)
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise InputError(f"{path}: {key} must be a list of image names, found {names!r}")
        if not names:
            raise InputError(f"{path}: the {key} list is empty")
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise InputError(f"{path}: the {key} list names images twice: {', '.join(twice)}")
    overlap = sorted(set(split["tune"]) & set(split["eval"]))
    if overlap:
        raise InputError(f"{path}: images both in tune and eval: {', '.join(overlap)}")
    return {"tune": list(split["tune"]), "eval": list(split["eval"])}


def split_record(path: str | Path, split: dict[str, list[str]]) -> dict[str, Any]:
    """What a sweep records of the split it was tuned with: the split file's content identity and its tune list."""
    return {"file": file_identity(path), "tune": list(split["tune"])}


IDENTITY = "decoded"
"""How :func:`image_identity` identifies files (a record without it identified their bytes)."""


def image_identity(sample: Sample, spec: DatasetSpec) -> dict[str, str | None]:
    """An image's name and the digests of what its prediction, objects and ground truth decode to (``None``
    without ground truth): the label pixels and each object's pixels, so a PNG saved again or a JSON indented
    otherwise is the same image."""
    return {
        "name": sample.stem,
        "identity": IDENTITY,
        "pred": label_digest(sample.pred, spec),
        "sam": objects_digest(sample.sam),
        "gt": None if sample.gt is None else label_digest(sample.gt, spec),
    }


def label_digest(path: Path, spec: DatasetSpec) -> str:
    """The digest of a label map's class indices (:func:`~rscommon.provenance.array_digest`)."""
    return array_digest([read_label_png(path, spec)])


def objects_digest(path: Path) -> str:
    """The digest of an object list's masks, in order: each object's size and its pixels (column-major)."""
    objects = read_objects(path)
    return array_digest(
        array
        for record in objects
        for array in (np.array(record["rles"]["size"]), rle_pixels(record["rles"]["counts"], record["rles"]["size"]))
    )
