"""Command line of generate_img_sam.py: overlay and blend pictures from the object JSONs."""
from __future__ import annotations

import argparse
import functools
from collections.abc import Sequence
from pathlib import Path

from rscommon.cli import run_main
from rscommon.images import list_images, read_rgb, write_png_atomic
from rscommon.objects import decode_masks, read_objects
from rscommon.overlay import blend, render_objects

from .runner import json_path, process_images, refuse_output_folder


def build_parser() -> argparse.ArgumentParser:
    """The parser of the picture script."""
    parser = argparse.ArgumentParser(
        description="Draw <out>/label/<stem>.png (coloured objects) and <out>/blend/<stem>.png per image.")
    parser.add_argument("-i", "--image-dir", "--image_dir", required=True, type=Path, help="folder of images")
    parser.add_argument("-j", "--json-dir", "--sam_json_dir", required=True, type=Path,
                        help="folder of <stem>.json object lists (from any generate_json_*.py)")
    parser.add_argument("-o", "--out-dir", "-f", "--sam_img_dir", required=True, type=Path, help="output folder")
    parser.add_argument("--alpha", type=float, default=0.35, help="overlay weight in the blend (default 0.35)")
    parser.add_argument("--overwrite", action="store_true", help="redo images whose pictures already exist")
    parser.add_argument("-n", "--workers", type=int, default=1, help="local worker processes (default 1)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run the per-image tasks on this dask.distributed "
                                                               "scheduler (e.g. tcp://host:8786)")
    return parser


def picture_paths(image_path: Path, out_dir: Path) -> list[Path]:
    """``[<out>/label/<stem>.png, <out>/blend/<stem>.png]``."""
    return [out_dir / "label" / f"{image_path.stem}.png", out_dir / "blend" / f"{image_path.stem}.png"]


def draw_image(image_path: Path, json_dir: Path, out_dir: Path, alpha: float) -> None:
    """Write the overlay and the blend of one image (its object JSON is validated first)."""
    image = read_rgb(image_path)
    masks = decode_masks(read_objects(json_path(image_path, json_dir), shape=image.shape[:2]), image.shape[:2])
    overlay = render_objects(masks)
    label_path, blend_path = picture_paths(image_path, out_dir)
    write_png_atomic(label_path, overlay)
    write_png_atomic(blend_path, blend(image, overlay, masks.any(axis=2), alpha))


def run(argv: Sequence[str]) -> int:
    """Validate the folders and options, then draw; 1 if an image failed."""
    args = build_parser().parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        raise ValueError(f"--alpha must be within 0..1, got {args.alpha}")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    refuse_output_folder(args.out_dir, args.image_dir, args.json_dir)
    if not args.json_dir.is_dir():
        raise FileNotFoundError(f"object JSON folder not found: {args.json_dir}")
    images = list_images(args.image_dir)
    task = functools.partial(draw_image, json_dir=args.json_dir, out_dir=args.out_dir, alpha=args.alpha)
    summary = process_images(images, lambda path: picture_paths(path, args.out_dir), task,
                             overwrite=args.overwrite, desc="pictures", workers=args.workers,
                             scheduler=args.scheduler)
    print(summary.report())
    return 1 if summary.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; 0 when every image succeeded, 1 when some failed, 2 on bad input (one ``error:`` line)."""
    return run_main(run, argv)
