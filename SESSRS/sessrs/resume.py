"""What each resumable result of the stage was made from, so that a re-run never returns a stale result.

A sweep part (``OUT/parts/<stem>.npz``) and a refined map (``se_mask/<stem>.png``) are kept only while the
identity of their input files (size and SHA-256 of the prediction, the objects and, for a sweep part, the ground
truth), their settings and :data:`ALGORITHM_VERSION` are those of the current run; otherwise they are computed
again, and the run says which image and what changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rscommon.provenance import fingerprint, what_changed

from .inputs import Sample

ALGORITHM_VERSION = "1"
"""Raise it with any change to the refinement or the sweep that changes their results."""


def sample_fingerprint(sample: Sample, settings: Mapping[str, Any], with_gt: bool) -> dict[str, Any]:
    """The record of what a result of ``sample`` is made from: its files (the truth when ``with_gt``),
    ``settings`` and the algorithm's version."""
    inputs = {"pred": sample.pred, "sam": sample.sam}
    if with_gt:
        inputs["gt"] = sample.gt
    return fingerprint(inputs, settings, ALGORITHM_VERSION)


def stale_reason(stem: str, previous: Any, current: Mapping[str, Any]) -> str | None:
    """``None`` when ``previous`` equals ``current``, else one line naming the image and what changed."""
    if previous == current:
        return None
    changed = what_changed(previous, current) if isinstance(previous, Mapping) else []
    return f"{stem}: {', '.join(changed) or 'its record'} changed since it was computed; computing it again"
