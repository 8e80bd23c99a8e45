"""Convert LoveDA masks from raw codes to GeoSeg's: ``python tools/loveda_mask_convert.py --mask-dir D --output-mask-dir O``.

Raw codes 0 (no-data) and 1..7 become 7 (``other``) and 0..6. Each converted mask is written to
``O/<name>.png`` as a P-mode PNG with the Urban palette, and its colour rendering to ``O_rgb/<name>.png``.
Existing outputs are kept (``--overwrite`` redoes them), so an interrupted run continues where it stopped.
"""
from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from geoseg.datasets.folder import read_index_mask
from geoseg.datasets.labels import loveda_to_geoseg
from rscommon.datasets import get_dataset
from rscommon.labels import write_label_png, write_rgb_png
from rscommon.parallel import progress_map

URBAN = get_dataset("Urban")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mask-dir", type=Path, required=True, help="folder of raw LoveDA mask PNGs")
    parser.add_argument("--output-mask-dir", type=Path, required=True, help="folder for the converted masks")
    parser.add_argument("--rgb-dir", type=Path, help="folder for colour renderings (default: <output>_rgb)")
    parser.add_argument("--overwrite", action="store_true", help="redo masks whose outputs already exist")
    parser.add_argument("-n", "--workers", type=int, default=2)
    return parser.parse_args(argv)


def convert_mask(mask_path: Path, output_dir: Path, rgb_dir: Path, overwrite: bool = False) -> None:
    """Convert one raw mask into its GeoSeg label PNG and colour PNG (errors name the file)."""
    target, rgb_target = output_dir / mask_path.name, rgb_dir / mask_path.name
    if not overwrite and target.is_file() and rgb_target.is_file():
        return
    raw = read_index_mask(mask_path)
    try:
        labels = loveda_to_geoseg(raw)
    except ValueError as error:
        raise ValueError(f"{mask_path}: {error}") from error
    write_label_png(target, labels, URBAN)
    write_rgb_png(rgb_target, labels, URBAN)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rgb_dir = args.rgb_dir or args.output_mask_dir.with_name(args.output_mask_dir.name + "_rgb")
    if args.mask_dir.resolve() in (args.output_mask_dir.resolve(), rgb_dir.resolve()):
        raise SystemExit(f"output folder must differ from the input folder {args.mask_dir}")
    masks = sorted(args.mask_dir.glob("*.png"))
    if not masks:
        raise SystemExit(f"no PNG masks in {args.mask_dir}")
    args.output_mask_dir.mkdir(parents=True, exist_ok=True)
    rgb_dir.mkdir(parents=True, exist_ok=True)
    job = partial(convert_mask, output_dir=args.output_mask_dir, rgb_dir=rgb_dir, overwrite=args.overwrite)
    progress_map(job, masks, args.workers, desc="convert masks", unit="mask")
    print(f"{len(masks)} mask(s) -> {args.output_mask_dir} and {rgb_dir}")


if __name__ == "__main__":
    main()
