"""The resumable per-image loop: one task per image, here, in worker processes or on a Dask cluster.

A task never raises: a failing image comes back as its error, so one bad image neither stops a run over thousands
nor loses the images already finished. An image's outputs are made (again) exactly when they are missing or
damaged, or when its inputs, the settings or the stage's version differ from what made them; what made each
output is recorded in a hidden log in the output folder (see :mod:`sam_objects.run_log`).
"""

from __future__ import annotations

import glob
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rscommon.cli import INPUT_ERRORS
from rscommon.files import write_json_atomic
from rscommon.images import read_rgb
from rscommon.limits import max_image_pixels
from rscommon.parallel import LOCAL, Execution, Failure, guarded_map
from rscommon.provenance import file_identity

from .registry import ObjectSource, SourceRecipe, rebuilt_source
from .run_log import RunLog

# What a JSON holds and how it is made from a source's records; a change here redoes every JSON.
OBJECTS_VERSION = "2"
OBJECTS_LOG = ".objects_run.jsonl"

Identity = dict[str, Any]
Task = Callable[[Path], Mapping[str, Mapping[str, Identity]]]


@dataclass
class RunSummary:
    """What happened to each image of a run."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    redone: dict[str, str] = field(default_factory=dict)
    bugs: list[Exception] = field(default_factory=list)
    """The failures that are not bad input (:data:`rscommon.cli.INPUT_ERRORS`): a fault of the code, not of an image."""

    def report(self) -> str:
        """A short human-readable account: why images were redone, one line per failure."""
        lines = [f"{len(self.written)} written, {len(self.skipped)} skipped (already done), {len(self.failed)} failed"]
        lines += [f"  {count} redone: {reason}" for reason, count in Counter(self.redone.values()).items()]
        lines += [f"  FAILED {name}: {reason}" for name, reason in self.failed.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class Outcome:
    """The answer of one image's task: what it read and wrote, or its error."""

    image: Path
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    exception: Exception | None = None


def run_tasks(task: Task, image_paths: list[Path], *, desc: str, execution: Execution = LOCAL) -> Iterator[Outcome]:
    """The outcome of ``task`` on each image as it finishes, where ``execution`` says, with a progress bar; failures
    are printed."""
    results = guarded_map(task, [(path, path) for path in image_paths], execution)
    for path, result in tqdm(results, total=len(image_paths), desc=desc, unit="image"):
        outcome = (
            Outcome(path, error=f"{type(result.error).__name__}: {result.error}", exception=result.error)
            if isinstance(result, Failure)
            else Outcome(path, details=result)
        )
        if outcome.error:
            tqdm.write(f"FAILED {outcome.image.name}: {outcome.error}", file=sys.stderr)
        yield outcome


def _count(summary: RunSummary, outcome: Outcome) -> None:
    if outcome.error:
        summary.failed[outcome.image.name] = outcome.error
        if outcome.exception is not None and not isinstance(outcome.exception, INPUT_ERRORS):
            summary.bugs.append(outcome.exception)
    else:
        summary.written.append(outcome.image.name)


def identities(paths: Mapping[str, Path]) -> dict[str, Identity]:
    """The :func:`~rscommon.provenance.file_identity` of each named file."""
    return {name: file_identity(path) for name, path in paths.items()}


def _current_identities(paths: Mapping[str, Path]) -> dict[str, Identity | None]:
    try:
        return identities(paths)
    except OSError:
        return {name: None for name in paths}  # unreadable: its task will fail and say why


@dataclass(frozen=True)
class Provenance:
    """What every output of a run depends on besides its own inputs: the stage version, the settings, and
    inputs shared by all images (a checkpoint)."""

    version: str
    settings: Mapping[str, Any]
    shared_inputs: Mapping[str, Identity | None] = field(default_factory=dict)

    def made_from(self, inputs: Mapping[str, Identity | None]) -> dict[str, Any]:
        """The record of one image's outputs (shaped like :func:`rscommon.provenance.fingerprint`)."""
        return {"version": self.version, "settings": dict(self.settings), "inputs": {**inputs, **self.shared_inputs}}


def run_resumably(
    image_paths: list[Path],
    log_path: Path,
    provenance: Provenance,
    inputs_of: Callable[[Path], dict[str, Path]],
    outputs_of: Callable[[Path], dict[str, Path]],
    task: Task,
    *,
    overwrite: bool = False,
    desc: str = "images",
    execution: Execution = LOCAL,
) -> RunSummary:
    """Run ``task`` on each image whose outputs were not made from its current inputs and ``provenance``.

    ``task(path)`` writes the image's outputs atomically and answers ``{"inputs": identities of what it read
    (taken before reading), "outputs": identities of what it wrote}``; the answer is logged as it arrives. An
    image that fails when redone loses its previous outputs, so nothing out of date is left to be read.
    """
    log = RunLog(log_path)
    summary, todo = RunSummary(), []
    for path in image_paths:
        made_from = provenance.made_from(_current_identities(inputs_of(path)))
        reason = "--overwrite" if overwrite else log.reason_to_redo(path.name, outputs_of(path), made_from)
        if reason is None:
            summary.skipped.append(path.name)
            continue
        todo.append(path)
        if reason != "new":
            summary.redone[path.name] = reason
    if log_path.parent.is_dir():  # created by the first output written, so a run that cannot start writes nothing
        _remove_leftovers([target for path in image_paths for target in outputs_of(path).values()])
        log.compact()
    for outcome in run_tasks(task, todo, desc=desc, execution=execution):
        _count(summary, outcome)
        if not outcome.error:
            log.append(
                outcome.image.name, provenance.made_from(outcome.details["inputs"]), dict(outcome.details["outputs"])
            )
        elif summary.redone.get(outcome.image.name, "--overwrite") != "--overwrite":
            for target in outputs_of(outcome.image).values():
                target.unlink(missing_ok=True)
            summary.failed[outcome.image.name] += " (its previous output, out of date or damaged, was removed)"
    return summary


def _remove_leftovers(targets: list[Path]) -> None:
    """Temporary files of ``targets`` left by a killed run (atomic writes name them ``.<name>.*.tmp``)."""
    for target in targets:
        if target.parent.is_dir():
            for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
                leftover.unlink(missing_ok=True)


def json_path(image_path: Path, json_dir: Path) -> Path:
    """``<json_dir>/<image stem>.json``."""
    return json_dir / f"{image_path.stem}.json"


class WriteObjects:
    """The task of one image: read it (refused over ``max_pixels``), find its objects, write its JSON atomically;
    answer what it read and wrote. Sent to worker processes or cluster workers, where the source is rebuilt once
    from its recipe."""

    def __init__(self, source: ObjectSource | SourceRecipe, json_dir: Path, max_pixels: int) -> None:
        self.source = source
        self.json_dir = json_dir
        self.max_pixels = max_pixels

    def __call__(self, image_path: Path) -> dict[str, dict[str, Identity]]:
        source = self.source if isinstance(self.source, ObjectSource) else rebuilt_source(self.source)
        read = identities({"image": image_path})  # before reading: a later change only causes a redo
        target = json_path(image_path, self.json_dir)
        write_json_atomic(target, source(read_rgb(image_path, self.max_pixels)))
        return {"inputs": read, "outputs": identities({target.name: target})}


def generate_object_jsons(
    image_paths: list[Path],
    json_dir: str | Path,
    source: ObjectSource | SourceRecipe,
    *,
    overwrite: bool = False,
    execution: Execution = LOCAL,
    max_pixels: int | None = None,
) -> RunSummary:
    """Write ``<stem>.json`` (a list of COCO-RLE objects) for every image into ``json_dir``, resumably.

    An image is skipped when its JSON was made from the same image content, source settings, checkpoint and
    stage version (and the JSON is intact); otherwise it is made (again). ``source`` is a built source, or a
    recipe that each worker builds (an ``execution`` of several workers or a dask.distributed scheduler). Images
    over ``max_pixels`` (default :func:`rscommon.limits.max_image_pixels`, taken here and carried to the workers)
    fail, undecoded.
    """
    json_dir = Path(json_dir)
    recipe = source.recipe if isinstance(source, ObjectSource) else source
    identity = recipe.identity()  # the checkpoint is hashed once per run
    provenance = Provenance(OBJECTS_VERSION, identity["settings"], {"checkpoint": identity["checkpoint"]})

    def outputs_of(path: Path) -> dict[str, Path]:
        target = json_path(path, json_dir)
        return {target.name: target}

    return run_resumably(
        image_paths,
        json_dir / OBJECTS_LOG,
        provenance,
        lambda path: {"image": path},
        outputs_of,
        WriteObjects(source, json_dir, max_image_pixels(max_pixels)),
        overwrite=overwrite,
        desc="object masks",
        execution=execution,
    )
