"""Refinement peers: the ways of post-processing a prediction that the demo compares with SESSRS, behind one
interface.

A peer takes a :class:`PeerInput` (image, prediction, SAM objects of one tile) and returns a refined label map
of the prediction's shape. The peers are:

- ``unrefined``: the prediction as it is;
- ``ssa_vote``: Semantic Segment Anything's rule, every object painted with its plurality predicted class
  (larger objects first, so smaller objects on top of them keep their own vote);
- ``majority_vote``: the same, but only objects whose plurality class covers more than ``t1`` of them;
- ``densecrf``: a fully connected CRF (pydensecrf2) on the prediction, with the image as the bilateral guide.

SESSRS itself is not a peer here: the demo takes its maps from the SESSRS stage's own application (``se_mask/``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import pydensecrf.densecrf as dcrf
from pydensecrf.utils import unary_from_labels

from rscommon.files import InputError
from rscommon.objects import decode_masks
from sessrs.voting import MAJORITY_SHARE, majority_vote, ssa_vote

Thresholds = Mapping[int, float]


@dataclass(frozen=True, eq=False)
class PeerInput:
    """One tile as the peers see it: RGB ``image`` (H x W x 3 uint8), ``pred`` (H x W class ids) and the parsed
    SAM ``objects`` (``{"rles": {...}, "area": int}`` dicts)."""

    image: np.ndarray
    pred: np.ndarray
    objects: Sequence[dict]
    name: str = ""

    def __post_init__(self) -> None:
        if self.pred.ndim != 2:
            raise InputError(f"{self.name or 'tile'}: prediction must be H x W, got shape {self.pred.shape}")
        if self.image.shape[:2] != self.pred.shape:
            raise InputError(
                f"{self.name or 'tile'}: image {self.image.shape[:2]} and prediction {self.pred.shape} differ in size"
            )

    @cached_property
    def masks(self) -> np.ndarray:
        """The objects' boolean masks, decoded once: H x W x N."""
        return decode_masks(list(self.objects), self.pred.shape)


class Peer(Protocol):
    """A refinement method compared in the demo."""

    name: str

    def __call__(self, tile: PeerInput) -> np.ndarray:
        """Return the refined H x W label map of ``tile`` (the input is left untouched)."""
        ...


class Unrefined:
    """The model's prediction, unchanged."""

    name = "unrefined"

    def __call__(self, tile: PeerInput) -> np.ndarray:
        return tile.pred.copy()


class ObjectMajorityVote:
    """Paint each object with its plurality predicted class when that class covers more than ``t1`` of it
    (:func:`sessrs.voting.majority_vote`: one threshold for every class or a class -> threshold mapping)."""

    name = "majority_vote"

    def __init__(self, t1: float | Thresholds = MAJORITY_SHARE) -> None:
        self.t1 = t1

    def __call__(self, tile: PeerInput) -> np.ndarray:
        return majority_vote(tile.pred, tile.objects, self.t1)


class SSAVote:
    """Semantic Segment Anything's label-free vote (:func:`sessrs.voting.ssa_vote`): every object, largest first,
    painted with the plurality predicted class inside it."""

    name = "ssa_vote"

    def __call__(self, tile: PeerInput) -> np.ndarray:
        return ssa_vote(tile.pred, tile.objects)


class DenseCRF:
    """Fully connected CRF (Kraehenbuehl & Koltun) over the prediction, guided by the image colours.

    The unary trusts each predicted label with probability ``label_confidence``; the defaults for the pairwise
    terms are the ones of the pydensecrf examples.
    """

    name = "densecrf"

    def __init__(
        self,
        num_classes: int,
        label_confidence: float = 0.7,
        iterations: int = 5,
        gaussian_sxy: float = 3.0,
        gaussian_compat: float = 3.0,
        bilateral_sxy: float = 80.0,
        bilateral_srgb: float = 13.0,
        bilateral_compat: float = 10.0,
    ) -> None:
        self.num_classes = num_classes
        self.label_confidence = label_confidence
        self.iterations = iterations
        self.gaussian = (gaussian_sxy, gaussian_compat)
        self.bilateral = (bilateral_sxy, bilateral_srgb, bilateral_compat)

    def __call__(self, tile: PeerInput) -> np.ndarray:
        if tile.pred.max(initial=0) >= self.num_classes:
            raise InputError(f"{tile.name or 'tile'}: prediction holds class {tile.pred.max()} >= {self.num_classes}")
        height, width = tile.pred.shape
        crf = dcrf.DenseCRF2D(width, height, self.num_classes)
        crf.setUnaryEnergy(
            unary_from_labels(tile.pred.astype(np.int64), self.num_classes, self.label_confidence, zero_unsure=False)
        )
        crf.addPairwiseGaussian(sxy=self.gaussian[0], compat=self.gaussian[1])
        sxy, srgb, compat = self.bilateral
        crf.addPairwiseBilateral(sxy=sxy, srgb=srgb, rgbim=np.ascontiguousarray(tile.image[..., :3]), compat=compat)
        marginals = np.array(crf.inference(self.iterations)).reshape(self.num_classes, height, width)
        return marginals.argmax(axis=0).astype(tile.pred.dtype)


def run_peers(peers: Sequence[Peer], tile: PeerInput) -> dict[str, np.ndarray]:
    """Apply every peer to ``tile``; returns name -> refined label map (names must be unique)."""
    names = [peer.name for peer in peers]
    if len(set(names)) != len(names):
        raise InputError(f"peer names must be unique, got {names}")
    return {peer.name: peer(tile) for peer in peers}
