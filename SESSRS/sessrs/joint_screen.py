"""One step of the joint search on many images: every setting screened on a subset, the best few confirmed on all.

See docs/algorithm.md, "The joint search". A step scores every candidate setting of one class (47 on the
reference grid); on hundreds of images most of them are far from the best, and a quarter of the images ranks them
well enough to tell. So on at least :attr:`Screening.min_images` images a step scores every candidate on the
images of a fixed subset (about one in :attr:`Screening.every`, chosen by name, so every worker gets its share),
then the current setting and the :attr:`Screening.keep` best of the others on the remaining images; the step
chooses among those by their mIoU on all images, exactly as an unscreened step would among them. A change is kept
only when it gains at least :attr:`Screening.min_gain`, so the last rounds, whose changes move the mIoU by a few
thousandths of a point, are not run for them. Fewer images: every candidate on every image, any gain kept (the
search ends where no single change helps).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .joint_engine import ClassSetting

Totals = Callable[[frozenset[str], Sequence[ClassSetting]], np.ndarray]
"""Summed confusion matrices of some images, one per candidate setting of the class of the step."""


@dataclass(frozen=True)
class Screening:
    """When and how a step of the joint search is screened on a subset of its images."""

    min_images: int = 128
    """Screen a step on at least this many images (fewer: score every candidate on every image)."""
    every: int = 4
    """The subset holds about one image in this many."""
    keep: int = 4
    """Candidates confirmed on every image besides the current setting."""
    min_gain: float = 1e-4
    """The least mIoU gain (a fraction: 1e-4 is 0.01 points) for which a screened step changes a setting."""

    def applies(self, images: int) -> bool:
        return images >= self.min_images

    def to_json(self) -> dict:
        return asdict(self)


SCREENING = Screening()
EXACT = Screening(min_images=2**62)
"""Every candidate on every image, whatever the number of images."""


def subset_of(stems: frozenset[str], every: int) -> frozenset[str]:
    """About one stem in ``every``, by a checksum of the name (the same whatever the other stems or the workers)."""
    return frozenset(stem for stem in stems if zlib.crc32(stem.encode()) % every == 0)


def screened_matrices(
    totals: Totals,
    stems: frozenset[str],
    candidates: Sequence[ClassSetting],
    miou: Callable[[np.ndarray], float],
    screening: Screening,
) -> tuple[list[int], np.ndarray]:
    """The candidates scored on all ``stems`` (indices into ``candidates``, the current setting, index 0, first)
    and their summed confusion matrices."""
    subset = subset_of(stems, screening.every)
    if not screening.applies(len(stems)) or not subset or subset == stems:
        return list(range(len(candidates))), totals(stems, candidates)
    on_subset = totals(subset, candidates)
    ranked = sorted(range(1, len(candidates)), key=lambda index: -miou(on_subset[index]))  # stable: ties in order
    chosen = [0, *sorted(ranked[: screening.keep])]
    rest = totals(stems - subset, [candidates[index] for index in chosen])
    return chosen, on_subset[chosen] + rest
