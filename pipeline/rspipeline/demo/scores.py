"""The compared methods' label maps and figures: the peers that tune nothing, the SESSRS stage's refined maps,
pooled confusion matrices, and the report's rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.images import read_rgb
from rscommon.labels import read_label_png, write_label_png
from rscommon.metrics import compute_scores, confusion_matrix
from rscommon.objects import read_objects
from rspipeline.peers import DenseCRF, ObjectMajorityVote, Peer, PeerInput, SSAVote, Unrefined, run_peers
from sessrs.folders import RefinedFolder
from sessrs.voting import MAJORITY_SHARE

from .protocols import SESSRS_VARIANTS
from .samples import Workspace

METHOD_LABELS = {
    "unrefined": "unrefined",
    "ssa_vote": "SSA's rule (object vote)",
    "majority_vote": f"majority vote (t={MAJORITY_SHARE})",
    "densecrf": "DenseCRF",
    **{variant.key: variant.label for variant in SESSRS_VARIANTS},
}
FIGURES = ("OA", "mIoU", "mF1", "mPA")

Matrices = dict[str, np.ndarray]


def fixed_peers(spec: DatasetSpec) -> list[Peer]:
    """The peers that tune nothing on the tiles: the same in every protocol and fold."""
    return [
        Unrefined(),
        SSAVote(),
        ObjectMajorityVote(t1=MAJORITY_SHARE),
        DenseCRF(num_classes=spec.num_classes),
    ]


def load_tile(work: Workspace, name: str, spec: DatasetSpec) -> tuple[PeerInput, np.ndarray]:
    """A tile as the peers see it, and its ground truth."""
    pred = read_label_png(work.pred / f"{name}.png", spec)
    objects = read_objects(work.sam / f"{name}.json", shape=pred.shape)
    gt = read_label_png(work.gt / f"{name}.png", spec)
    return PeerInput(image=read_rgb(work.images / f"{name}.png"), pred=pred, objects=objects, name=name), gt


def evaluate_peers(
    peers: Sequence[Peer], tiles: Iterable[str], work: Workspace, spec: DatasetSpec
) -> dict[str, Matrices]:
    """Refine every tile with every peer into ``refined/<peer>/<tile>.png``; returns peer -> tile -> matrix."""
    matrices: dict[str, Matrices] = {peer.name: {} for peer in peers}
    for name in tiles:
        tile, gt = load_tile(work, name, spec)
        for peer, refined in run_peers(peers, tile).items():
            write_label_png(work.refined / peer / f"{name}.png", refined, spec)
            matrices[peer][name] = confusion_matrix(gt, refined, spec.num_classes)
    return matrices


def refined_matrices(folder: RefinedFolder, tiles: Iterable[str], work: Workspace, spec: DatasetSpec) -> Matrices:
    """Tile -> confusion matrix of the refined maps of ``folder`` (e.g. a pick's)."""
    return {
        name: confusion_matrix(
            read_label_png(work.gt / f"{name}.png", spec),
            read_label_png(folder.refined_map(name), spec),
            spec.num_classes,
        )
        for name in tiles
    }


def pooled(per_tile: Matrices) -> np.ndarray:
    return np.sum(list(per_tile.values()), axis=0)


def scores_row(method: str, matrix: np.ndarray, spec: DatasetSpec) -> dict:
    """A report row: the reference's figures of a pooled confusion matrix (x100, 2 decimals; undefined -> None)."""
    scores = compute_scores(matrix, spec.scored)
    figures = scores.as_dict(spec.classes)
    per_class = scores.per_class(spec.classes)
    return {
        "peer": method,
        **{key: _none_for_nan(figures[key]) for key in FIGURES},
        "IoU": {name: _none_for_nan(v) for name, v in figures["IoU"].items()},
        "F1": {name: _none_for_nan(v["F1"]) for name, v in per_class.items()},
    }


def _none_for_nan(value: float) -> float | None:
    return None if np.isnan(value) else value
