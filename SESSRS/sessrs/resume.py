"""What each resumable result of the stage was made from, so that a re-run never returns a stale result.

A sweep part (``OUT/parts/<stem>.npz``) and a refined map (``se_mask/<stem>.png``) are kept only while what
their input files decode to (digested as :func:`~sessrs.inputs.image_identity` does: the label pixels of the
prediction and, for a sweep part, of the ground truth, and each object's pixels; a file saved again with the same
content is the same), their settings and :data:`ALGORITHM_VERSION` are those of the current run; otherwise they
are computed again, and the run says which image and what changed. A saved joint search state is checked against
its own trace (:func:`state_disagreement`) before it is resumed, so that an edited ``done`` never ends a search
early.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError
from rscommon.provenance import file_identity, fingerprint, what_changed

from .inputs import Sample, label_digest, objects_digest

ALGORITHM_VERSION = "1"
"""Raise it with any change to the refinement or the sweep that changes their results."""


def sample_fingerprint(sample: Sample, spec: DatasetSpec, settings: Mapping[str, Any], with_gt: bool) -> dict[str, Any]:
    """The record of what a result of ``sample`` is made from: what its files decode to (the truth's only when
    ``with_gt``), ``settings`` and the algorithm's version. A file that does not decode is recorded by its bytes:
    the image's own job then fails on it and says why, and the other images go on."""
    files = {"pred": sample.pred, "sam": sample.sam, **({"gt": sample.gt} if with_gt else {})}
    record = fingerprint({}, settings, ALGORITHM_VERSION)
    record["inputs"] = {kind: _decoded_or_bytes(kind, path, spec) for kind, path in files.items()}
    return record


def _decoded_or_bytes(kind: str, path: Path, spec: DatasetSpec) -> str | dict[str, Any]:
    try:
        return objects_digest(path) if kind == "sam" else label_digest(path, spec)
    except InputError:
        return file_identity(path)


def stale_reason(stem: str, previous: Any, current: Mapping[str, Any]) -> str | None:
    """``None`` when ``previous`` equals ``current``, else one line naming the image and what changed."""
    if previous == current:
        return None
    changed = what_changed(previous, current) if isinstance(previous, Mapping) else []
    return f"{stem}: {', '.join(changed) or 'its record'} changed since it was computed; computing it again"


def state_disagreement(state: Mapping[str, Any], classes: Sequence[int]) -> str | None:
    """What in a saved joint search state (its JSON form) disagrees with its trace, replayed over ``classes`` (the
    search's classes in turn; a step's gain marks a change): its ``done``, ``round``, ``position``,
    ``last_changed``, ``evaluations`` or ``settings``; ``None`` when everything agrees."""
    trace, count = state["trace"], len(classes)
    steps = len(trace) - 1
    if steps < 0 or not count:
        return "its trace is empty"
    start = trace[0]["thresholds"]
    settings = [
        {"t1": start["t1"].get(str(c), 1.0), "t2": start["t2"].get(str(c), 1.0), "refined": c in start["modify"]}
        for c in range(len(state["settings"]))
    ]
    last_changed, evaluations = None, 0
    for number, step in enumerate(trace[1:]):
        if step["class"] != classes[number % count] or step["round"] != 1 + number // count:
            return f"step {number + 1} is not the search's step {number + 1}"
        settings[step["class"]] = step["setting"]
        evaluations += step["settings_scored"]
        if step["gain"] > 0:
            last_changed = step["class"]
    position = steps % count
    done = steps > 0 and (classes[position] == last_changed or (last_changed is None and position == 0))
    replayed = {
        "done": done,
        "position": position,
        "last_changed": last_changed,
        "round": 1 + steps // count - (1 if done and position == 0 else 0),
        "evaluations": evaluations,
        "settings": settings,
    }
    wrong = [key for key, value in replayed.items() if state[key] != value]
    return f"its {', '.join(wrong)} disagree with its trace of {steps} steps" if wrong else None
