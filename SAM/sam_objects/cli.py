"""Command line of the generate_json_*.py scripts: object masks per image as COCO-RLE JSON."""
from __future__ import annotations

import argparse
import sys
from dataclasses import Field, fields
from pathlib import Path

from rscommon.images import list_images

from .checkpoints import DEFAULT_MODEL_TYPE, MissingCheckpointError, default_checkpoint_path, require_checkpoint
from .device import resolve_device
from .regions_source import RegionObjectSource
from .runner import ObjectSource, generate_object_jsons
from .sam_source import SamObjectSource, build_sam_model
from .semantic_sam_source import MissingDependencyError, SemanticSamObjectSource, build_semantic_sam_model
from .settings import (
    REFERENCE_SETTINGS,
    MaskGeneratorSettings,
    RegionSettings,
    SemanticSamSettings,
    Settings,
    settings_for,
)

MODELS = ("sam", "samhq", "ssam", "regions")
MODEL_TYPES = ("vit_h", "vit_l", "vit_b", "vit_tiny", "swinl", "swint")
SOURCE_NAMES = {
    "sam": "SAM (segment_anything)",
    "samhq": "HQ-SAM (segment_anything_hq)",
    "ssam": "Semantic-SAM (semantic_sam)",
    "regions": "weight-free scikit-image regions (NOT SAM)",
}


def _setting_fields() -> dict[str, Field]:
    """Every setting of every source, once by name (the first definition gives the help text)."""
    unique = {}
    for settings_class in (MaskGeneratorSettings, SemanticSamSettings, RegionSettings):
        for setting in fields(settings_class):
            unique.setdefault(setting.name, setting)
    return unique


def _defaults_text(name: str) -> str:
    """The reference default of setting ``name`` for each model that uses it, e.g. 'sam 0.95, samhq 0.85'."""
    return ", ".join(f"{model} {getattr(settings, name)}" for model, settings in REFERENCE_SETTINGS.items()
                     if name in settings.__dataclass_fields__)


def build_parser(default_model: str) -> argparse.ArgumentParser:
    """The parser; setting options default to the reference's values for the chosen ``--model``."""
    parser = argparse.ArgumentParser(
        description="Write <stem>.json per image: a list of {'rles': COCO compressed RLE, 'area': int} objects.")
    parser.add_argument("-i", "--image-dir", "--image_dir", required=True, type=Path, help="folder of images")
    parser.add_argument("-j", "--json-dir", "--sam_json_dir", required=True, type=Path, help="output folder")
    parser.add_argument("--model", choices=MODELS, default=default_model,
                        help=f"object source (default {default_model}); 'regions' needs no weights and is not SAM")
    parser.add_argument("--model-type", choices=MODEL_TYPES,
                        help="backbone: sam vit_h/l/b; samhq also vit_tiny; ssam swinl/swint (default vit_h / swinl)")
    parser.add_argument("--checkpoint", type=Path,
                        help="weights file (default: its standard name under the repository's weights/)")
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--overwrite", action="store_true", help="redo images whose JSON already exists")
    group = parser.add_argument_group("generator settings (default: the reference's value for the chosen --model)")
    for name, setting in _setting_fields().items():
        extra = {key: value for key, value in setting.metadata.items() if key in ("type", "choices", "nargs")}
        group.add_argument("--" + name.replace("_", "-"), dest=name, default=None,
                           help=f"{setting.metadata['help']} [{_defaults_text(name)}]", **extra)
    return parser


def _settings_from_args(args: argparse.Namespace) -> Settings:
    given = {name: getattr(args, name) for name in _setting_fields() if getattr(args, name) is not None}
    return settings_for(args.model, **given)


def build_source(args: argparse.Namespace, settings: Settings) -> ObjectSource:
    """The object source the arguments describe; a missing checkpoint or package is an error here."""
    if args.model == "regions":
        if args.checkpoint is not None or args.model_type is not None:
            raise ValueError("--model regions uses no weights: drop --checkpoint and --model-type")
        return RegionObjectSource(settings)
    model_type = args.model_type or DEFAULT_MODEL_TYPE[args.model]
    checkpoint = args.checkpoint or default_checkpoint_path(args.model, model_type)
    device = resolve_device(args.device)
    if args.model == "ssam":
        net = build_semantic_sam_model(model_type, checkpoint, device)
        return SemanticSamObjectSource(net, settings, device)
    net = build_sam_model(args.model, model_type, require_checkpoint(checkpoint, args.model, model_type))
    return SamObjectSource(net, args.model, settings, device)


def main(argv: list[str] | None = None, default_model: str = "sam") -> int:
    """Run the CLI; returns 0 when every image succeeded, 1 when some failed, 2 on a setup error."""
    args = build_parser(default_model).parse_args(argv)
    try:
        settings = _settings_from_args(args)
        images = list_images(args.image_dir)
        source = build_source(args, settings)
    except (MissingCheckpointError, MissingDependencyError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"object source: {SOURCE_NAMES[args.model]}; {len(images)} images -> {args.json_dir}")
    summary = generate_object_jsons(images, args.json_dir, source, overwrite=args.overwrite)
    print(summary.report())
    return 1 if summary.failed else 0
