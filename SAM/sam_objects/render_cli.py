"""Command line of generate_img_sam.py: overlay and blend pictures from the object JSONs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rscommon.images import list_images, read_rgb, write_png_atomic
from rscommon.objects import decode_masks, read_objects
from rscommon.overlay import blend, render_objects

from .runner import json_path, process_images


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
    return parser


def picture_paths(image_path: Path, out_dir: Path) -> list[Path]:
    """``[<out>/label/<stem>.png, <out>/blend/<stem>.png]``."""
    return [out_dir / "label" / f"{image_path.stem}.png", out_dir / "blend" / f"{image_path.stem}.png"]


def draw_image(image_path: Path, json_dir: Path, out_dir: Path, alpha: float) -> None:
    """Write the overlay and the blend of one image."""
    image = read_rgb(image_path)
    source = json_path(image_path, json_dir)
    masks = decode_masks(read_objects(source, shape=image.shape[:2]), image.shape[:2])
    overlay = render_objects(masks)
    label_path, blend_path = picture_paths(image_path, out_dir)
    write_png_atomic(label_path, overlay)
    write_png_atomic(blend_path, blend(image, overlay, masks.any(axis=2), alpha))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns 0 when every image succeeded, 1 when some failed, 2 on a setup error."""
    args = build_parser().parse_args(argv)
    try:
        images = list_images(args.image_dir)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = process_images(images, lambda path: picture_paths(path, args.out_dir),
                             lambda path: draw_image(path, args.json_dir, args.out_dir, args.alpha),
                             overwrite=args.overwrite, desc="pictures")
    print(summary.report())
    return 1 if summary.failed else 0
