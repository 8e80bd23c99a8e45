"""Command line of the generate_json_*.py scripts: object masks per image as COCO-RLE JSON."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import Field, fields, replace

from rscommon.cli import absolute_path, run_main
from rscommon.files import InputError
from rscommon.images import list_images
from rscommon.limits import MAX_IMAGE_PIXELS_ENV, max_image_pixels
from rscommon.locks import folder_lock, locked
from rscommon.outputs import check_output_folder
from rscommon.parallel import Execution

from . import registry
from .dependencies import MissingDependencyError
from .registry import SOURCES, SourceRecipe, source_recipe
from .runner import generate_object_jsons

__all__ = ["build_parser", "execution_from_args", "main", "recipe_from_args", "run"]

MODEL_TYPES = tuple(dict.fromkeys(t for spec in SOURCES.values() for t in spec.checkpoints))


def _setting_fields() -> dict[str, Field]:
    """Every setting of every source, once by name (the first definition gives the help text)."""
    unique = {}
    for spec in SOURCES.values():
        for setting in fields(spec.settings):
            unique.setdefault(setting.name, setting)
    return unique


def _defaults_text(name: str) -> str:
    """The reference default of setting ``name`` for each source that uses it, e.g. 'sam 0.95, samhq 0.85'."""
    return ", ".join(
        f"{spec.name} {getattr(spec.settings, name)}"
        for spec in SOURCES.values()
        if name in spec.settings.__dataclass_fields__
    )


def _model_types_text() -> str:
    return "; ".join(
        f"{spec.name} {'/'.join(spec.checkpoints)} (default {spec.default_model_type})"
        for spec in SOURCES.values()
        if spec.checkpoints
    )


def build_parser(default_model: str) -> argparse.ArgumentParser:
    """The parser; setting options default to the reference's values for the chosen ``--model``."""
    parser = argparse.ArgumentParser(
        description="Write <stem>.json per image: a list of {'rles': COCO compressed RLE, 'area': int} objects."
    )
    parser.add_argument("-i", "--image-dir", "--image_dir", required=True, type=absolute_path, help="folder of images")
    parser.add_argument("-j", "--json-dir", "--sam_json_dir", required=True, type=absolute_path, help="output folder")
    parser.add_argument(
        "--model",
        choices=list(SOURCES),
        default=default_model,
        help=f"object source (default {default_model}); 'regions' needs no weights and is not SAM",
    )
    parser.add_argument("--model-type", choices=MODEL_TYPES, help=f"backbone: {_model_types_text()}")
    parser.add_argument(
        "--checkpoint",
        type=absolute_path,
        help="weights file (default: its standard name in the weights folder, $SESSRS_WEIGHTS "
        "or the repository's weights/)",
    )
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="redo every image (by default only images whose JSON is missing, damaged, or made "
        "from another image, settings or checkpoint are made)",
    )
    parser.add_argument(
        "-n",
        "--workers",
        type=int,
        default=1,
        help="local worker processes, each with its own model (default 1: in this process)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the per-image tasks on this dask.distributed scheduler (e.g. tcp://host:8786); "
        "workers must see the image and JSON folders and the checkpoint at the same paths",
    )
    parser.add_argument(
        "--max-image-pixels",
        type=int,
        metavar="N",
        help=f"refuse images of more pixels (default ${MAX_IMAGE_PIXELS_ENV}, else 8192 x 8192)",
    )
    group = parser.add_argument_group("generator settings (default: the reference's value for the chosen --model)")
    for name, setting in _setting_fields().items():
        extra = {key: value for key, value in setting.metadata.items() if key in ("type", "choices", "nargs")}
        group.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=None,
            help=f"{setting.metadata['help']} [{_defaults_text(name)}]",
            **extra,
        )
    return parser


def recipe_from_args(args: argparse.Namespace) -> SourceRecipe:
    """The object source the arguments describe; its checkpoint's path absolute, like every path given (cluster
    workers have working folders of their own)."""
    given = {name: getattr(args, name) for name in _setting_fields() if getattr(args, name) is not None}
    recipe = source_recipe(args.model, args.model_type, args.checkpoint, args.device, **given)
    return recipe if recipe.checkpoint is None else replace(recipe, checkpoint=recipe.checkpoint.absolute())


def execution_from_args(args: argparse.Namespace) -> Execution:
    """Where the per-image tasks run, from ``-n/--workers`` and ``--scheduler``."""
    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    return Execution(args.workers, args.scheduler)


def run(argv: Sequence[str], default_model: str) -> int:
    """Validate everything (folders, images, settings, checkpoint), then write the JSONs; 1 if an image failed (an
    image's failure that is not bad input is raised once the other images are done)."""
    args = build_parser(default_model).parse_args(argv)
    execution = execution_from_args(args)
    max_pixels = max_image_pixels(args.max_image_pixels)
    check_output_folder(args.json_dir, {"image": args.image_dir}, "-j")
    images = list_images(args.image_dir)
    recipe = recipe_from_args(args)
    try:
        if execution.scheduler or execution.workers > 1:
            recipe.check()  # each worker builds the source itself
            source = recipe
        else:
            source = registry.build_source(recipe)
    except MissingDependencyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    where = f" on {execution.scheduler}" if execution.scheduler else ""
    print(f"object source: {recipe.spec.label}; {len(images)} images -> {args.json_dir}{where}")
    with locked(folder_lock(args.json_dir), f"-j {args.json_dir}"):
        summary = generate_object_jsons(
            images,
            args.json_dir,
            source,
            overwrite=args.overwrite,
            execution=execution,
            max_pixels=max_pixels,
        )
    print(summary.report())
    if summary.bugs:  # the others are saved; a fault of the code ends the run as a bug, traceback with --debug
        raise summary.bugs[0]
    return 1 if summary.failed else 0


def main(argv: Sequence[str] | None = None, default_model: str = "sam") -> int:
    """Run the CLI; 0 when every image succeeded, 1 when some failed, 2 on bad input (one ``error:`` line)."""
    return run_main(lambda args: run(args, default_model), argv)
