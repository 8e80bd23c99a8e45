"""The resumable per-image loop: skip finished images, report failures and go on, summarise at the end."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rscommon.files import write_json_atomic
from rscommon.images import read_rgb
from rscommon.objects import encode_object

ObjectSource = Callable[[np.ndarray], Iterable[np.ndarray]]


@dataclass
class RunSummary:
    """What happened to each image of a run."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def report(self) -> str:
        """A short human-readable account, one line per failure."""
        lines = [f"{len(self.written)} written, {len(self.skipped)} skipped (already done), "
                 f"{len(self.failed)} failed"]
        lines += [f"  FAILED {name}: {reason}" for name, reason in self.failed.items()]
        return "\n".join(lines)


def process_images(image_paths: list[Path], outputs_of: Callable[[Path], list[Path]],
                   task: Callable[[Path], None], overwrite: bool = False, desc: str = "images") -> RunSummary:
    """Run ``task`` on every image whose outputs do not all exist yet (all of them with ``overwrite``).

    An exception from ``task`` is recorded against that image and the run continues.
    """
    summary = RunSummary()
    for path in tqdm(image_paths, desc=desc, unit="image"):
        if not overwrite and all(target.exists() for target in outputs_of(path)):
            summary.skipped.append(path.name)
            continue
        try:
            task(path)
        except Exception as error:  # one bad image must not stop a run over thousands
            summary.failed[path.name] = f"{type(error).__name__}: {error}"
            tqdm.write(f"FAILED {path.name}: {summary.failed[path.name]}", file=sys.stderr)
        else:
            summary.written.append(path.name)
    return summary


def json_path(image_path: Path, json_dir: Path) -> Path:
    """``<json_dir>/<image stem>.json``."""
    return json_dir / f"{image_path.stem}.json"


def image_objects(image: np.ndarray, source: ObjectSource) -> list[dict]:
    """The JSON records of the non-empty masks ``source`` finds in ``image``."""
    records = []
    for mask in source(image):
        if mask.shape != image.shape[:2]:
            raise ValueError(f"object source returned a {mask.shape} mask for a {image.shape[:2]} image")
        record = encode_object(mask)
        if record["area"] > 0:
            records.append(record)
    return records


def generate_object_jsons(image_paths: list[Path], json_dir: str | Path, source: ObjectSource,
                          overwrite: bool = False) -> RunSummary:
    """Write ``<stem>.json`` (a list of COCO-RLE objects) for every image into ``json_dir``, resumably."""
    json_dir = Path(json_dir)
    json_dir.mkdir(parents=True, exist_ok=True)

    def write_objects(path: Path) -> None:
        write_json_atomic(json_path(path, json_dir), image_objects(read_rgb(path), source))

    return process_images(image_paths, lambda path: [json_path(path, json_dir)], write_objects,
                          overwrite=overwrite, desc="object masks")
