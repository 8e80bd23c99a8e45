"""LoveDA masks from raw codes to GeoSeg's: raw 0 (no-data) and 1..7 become 7 (``other``) and 0..6.

Each converted mask is written as a P-mode PNG with the Urban palette, and its colour rendering beside it in
another folder. Existing outputs are kept unless ``overwrite``, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from rscommon.datasets import get_dataset
from rscommon.files import InputError
from rscommon.labels import read_label_png, write_label_png, write_rgb_png
from rscommon.parallel import Execution, progress_map

from ..datasets.labels import loveda_to_geoseg

URBAN = get_dataset("Urban")


def convert_mask(mask_path: Path, output_dir: Path, rgb_dir: Path, overwrite: bool = False) -> None:
    """Convert one raw mask into its GeoSeg label PNG and colour PNG (errors name the file)."""
    target, rgb_target = output_dir / mask_path.name, rgb_dir / mask_path.name
    if not overwrite and target.is_file() and rgb_target.is_file():
        return
    raw = read_label_png(mask_path)
    try:
        labels = loveda_to_geoseg(raw)
    except ValueError as error:
        raise InputError(f"{mask_path}: {error}") from error
    write_label_png(target, labels, URBAN)
    write_rgb_png(rgb_target, labels, URBAN)


def convert_masks(
    mask_dir: Path, output_dir: Path, rgb_dir: Path | None = None, overwrite: bool = False, workers: int = 2
) -> tuple[int, Path]:
    """Convert every ``*.png`` of ``mask_dir``; returns how many and the colour folder (default ``<output>_rgb``)."""
    rgb_dir = rgb_dir or output_dir.with_name(output_dir.name + "_rgb")
    if mask_dir.resolve() in (output_dir.resolve(), rgb_dir.resolve()):
        raise InputError(f"output folder must differ from the input folder {mask_dir}")
    if not mask_dir.is_dir():
        raise FileNotFoundError(f"mask folder {mask_dir} not found")
    masks = sorted(mask_dir.glob("*.png"))
    if not masks:
        raise InputError(f"no PNG masks in {mask_dir}")
    output_dir.mkdir(parents=True, exist_ok=True)
    rgb_dir.mkdir(parents=True, exist_ok=True)
    job = partial(convert_mask, output_dir=output_dir, rgb_dir=rgb_dir, overwrite=overwrite)
    progress_map(job, masks, Execution(workers), desc="convert masks", unit="mask")
    return len(masks), rgb_dir
