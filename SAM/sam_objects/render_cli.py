"""Command line of generate_img_sam.py: overlay and blend pictures from the object JSONs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rscommon.cli import absolute_path, run_main
from rscommon.files import InputError
from rscommon.images import list_images, read_rgb, write_png_atomic
from rscommon.limits import MAX_IMAGE_PIXELS_ENV, max_image_pixels, max_objects_per_image
from rscommon.locks import folder_lock, locked
from rscommon.objects import read_objects
from rscommon.outputs import check_output_folder
from rscommon.overlay import NOT_COVERED, blend, colour_ranks, rank_records

from .cli import execution_from_args
from .runner import Provenance, identities, json_path, run_resumably

# How pictures are drawn from an image and its objects; a change here redraws every picture.
PICTURES_VERSION = "1"
PICTURES_LOG = ".pictures_run.jsonl"


def build_parser() -> argparse.ArgumentParser:
    """The parser of the picture script."""
    parser = argparse.ArgumentParser(
        description="Draw <out>/label/<stem>.png (coloured objects) and <out>/blend/<stem>.png per image."
    )
    parser.add_argument("-i", "--image-dir", "--image_dir", required=True, type=absolute_path, help="folder of images")
    parser.add_argument(
        "-j",
        "--json-dir",
        "--sam_json_dir",
        required=True,
        type=absolute_path,
        help="folder of <stem>.json object lists (from any generate_json_*.py)",
    )
    parser.add_argument(
        "-o", "--out-dir", "-f", "--sam_img_dir", required=True, type=absolute_path, help="output folder"
    )
    parser.add_argument("--alpha", type=float, default=0.35, help="overlay weight in the blend (default 0.35)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="redraw every image (by default only pictures that are missing, damaged, or made from "
        "another image, JSON or --alpha are drawn)",
    )
    parser.add_argument("-n", "--workers", type=int, default=1, help="local worker processes (default 1)")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the per-image tasks on this dask.distributed scheduler (e.g. tcp://host:8786)",
    )
    parser.add_argument(
        "--max-image-pixels",
        type=int,
        metavar="N",
        help=f"refuse images of more pixels (default ${MAX_IMAGE_PIXELS_ENV}, else 8192 x 8192)",
    )
    return parser


def picture_paths(image_path: Path, out_dir: Path) -> dict[str, Path]:
    """``{"label/<stem>.png": <out>/label/<stem>.png, "blend/<stem>.png": <out>/blend/<stem>.png}``."""
    names = (f"label/{image_path.stem}.png", f"blend/{image_path.stem}.png")
    return {name: out_dir / name for name in names}


@dataclass(frozen=True)
class DrawPictures:
    """The task of one image: validate its object JSON, write the overlay and the blend; answer the identities of
    what it read and wrote. Picklable, for worker processes or cluster workers, which apply the limits it carries
    (pixels per image, objects per image)."""

    json_dir: Path
    out_dir: Path
    alpha: float
    max_pixels: int
    max_objects: int

    def inputs(self, image_path: Path) -> dict[str, Path]:
        return {"image": image_path, "objects": json_path(image_path, self.json_dir)}

    def __call__(self, image_path: Path) -> dict[str, dict]:
        read = identities(self.inputs(image_path))  # before reading: a later change only causes a redraw
        image = read_rgb(image_path, self.max_pixels)
        objects = read_objects(json_path(image_path, self.json_dir), image.shape[:2], self.max_objects)
        ranks = rank_records(objects, image.shape[:2])
        overlay = colour_ranks(ranks)
        targets = picture_paths(image_path, self.out_dir)
        label_path, blend_path = targets.values()
        write_png_atomic(label_path, overlay)
        write_png_atomic(blend_path, blend(image, overlay, ranks != NOT_COVERED, self.alpha))
        return {"inputs": read, "outputs": identities(targets)}


def run(argv: Sequence[str]) -> int:
    """Validate the folders and options, then draw; 1 if an image failed."""
    args = build_parser().parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        raise InputError(f"--alpha must be within 0..1, got {args.alpha}")
    execution = execution_from_args(args)
    task = DrawPictures(
        args.json_dir, args.out_dir, args.alpha, max_image_pixels(args.max_image_pixels), max_objects_per_image()
    )
    check_output_folder(args.out_dir, {"image": args.image_dir, "object JSON": args.json_dir}, "-o")
    if not args.json_dir.is_dir():
        raise FileNotFoundError(f"object JSON folder not found: {args.json_dir}")
    images = list_images(args.image_dir)
    with locked(folder_lock(args.out_dir), f"-o {args.out_dir}"):
        summary = run_resumably(
            images,
            args.out_dir / PICTURES_LOG,
            Provenance(PICTURES_VERSION, {"alpha": args.alpha}),
            task.inputs,
            lambda path: picture_paths(path, args.out_dir),
            task,
            overwrite=args.overwrite,
            desc="pictures",
            execution=execution,
        )
    print(summary.report())
    return 1 if summary.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; 0 when every image succeeded, 1 when some failed, 2 on bad input (one ``error:`` line)."""
    return run_main(run, argv)
