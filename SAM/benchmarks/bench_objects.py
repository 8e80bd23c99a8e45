"""Seconds per 1024 x 1024 image of every object source and model type that can be built here.

Each SAM-family run is split into the image encoder (the predictor's ``set_image``), mask decoding over the point
grid (the predictor's batched prediction, masks upsampled to the image), the package's post-processing (quality
filters, box NMS, RLE) and the stage's own code (records from the generator's RLE). A model whose checkpoint is in
the weights folder runs with it; otherwise with RANDOM weights (said in the table): the network's cost is the real
one, but random masks are noisy, so their RLE costs more than real masks' would. The quality thresholds are 0 so
every candidate mask is post-processed (the upper bound); ``--keep-thresholds`` uses the source's own. The parts
are wall seconds; "CPU s" is the process's CPU time of the whole image (all threads), steadier on a busy machine.

    python SAM/benchmarks/bench_objects.py                       # 8 x 8 grid, the small model types (minutes)
    python SAM/benchmarks/bench_objects.py --reference-grid --all-models --device cuda --autocast bf16
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from rscommon.images import read_rgb
from sam_objects.dependencies import MissingDependencyError
from sam_objects.device import resolve_device
from sam_objects.registry import SOURCES, ObjectSource, SourceRecipe, default_checkpoint_path

TILE = Path(__file__).resolve().parents[2] / "data/real_samples/loveda/mmseg_0.png"
SMALL_MODEL_TYPES = {"sam": ("vit_b",), "samhq": ("vit_tiny",), "sam2": ("tiny", "small")}
AUTOCAST = {"none": None, "fp16": torch.float16, "bf16": torch.bfloat16}
PARTS = ("encoder", "decode", "post", "stage")


class Stopwatch:
    """Seconds spent in chosen methods of objects, summed per part."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def time_method(self, owner: Any, method: str, part: str) -> None:
        """Count the time of every call of ``owner.method`` (this object only) towards ``part``."""
        original = getattr(owner, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - start

        setattr(owner, method, timed)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", choices=list(SOURCES), default=list(SOURCES))
    parser.add_argument(
        "--all-models", action="store_true", help=f"every model type (default: the small ones, {SMALL_MODEL_TYPES})"
    )
    parser.add_argument(
        "--reference-grid",
        action="store_true",
        help="each source's own generator settings (32 x 32 points; one crop layer for sam/samhq) "
        "instead of the quick grid",
    )
    parser.add_argument("--points-per-side", type=int, default=8, help="the quick grid, without crops (default 8)")
    parser.add_argument("--points-per-batch", type=int, help="point prompts per batch (default: the source's)")
    parser.add_argument(
        "--keep-thresholds",
        action="store_true",
        help="the source's quality thresholds (default 0: every candidate mask post-processed)",
    )
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    parser.add_argument(
        "--autocast",
        choices=sorted(AUTOCAST),
        help="CUDA autocast dtype (default: the source's, fp16 for sam/samhq and bf16 for sam2)",
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per model after a warm-up; best kept")
    args = parser.parse_args(argv)
    if args.autocast not in (None, "none") and resolve_device(args.device).type != "cuda":
        parser.error("--autocast is for CUDA devices")
    return args


def settings_of(name: str, args: argparse.Namespace) -> Any:
    """The generator settings of source ``name`` for this run."""
    settings = SOURCES[name].settings
    overrides: dict[str, Any] = {}
    if name != "regions":
        if not args.reference_grid:
            overrides.update(points_per_side=args.points_per_side, crop_n_layers=0)
        if args.points_per_batch:
            overrides["points_per_batch"] = args.points_per_batch
        if not args.keep_thresholds:
            overrides.update(pred_iou_thresh=0.0, stability_score_thresh=0.0)
    return replace(settings, **overrides)


def recipe_of(name: str, model_type: str | None, args: argparse.Namespace) -> tuple[SourceRecipe, str]:
    """The recipe of one run and what its weights are: the checkpoint in the weights folder, else random."""
    checkpoint = None
    if model_type is not None and default_checkpoint_path(name, model_type).is_file():
        checkpoint = default_checkpoint_path(name, model_type)
    weights = "none" if model_type is None else (checkpoint.name if checkpoint else "RANDOM")
    return SourceRecipe(name, settings_of(name, args), model_type, checkpoint, args.device), weights


def timed_run(recipe: SourceRecipe, image: Any, args: argparse.Namespace) -> tuple[dict[str, float], int, str]:
    """Seconds per part of the best of ``args.repeats`` runs after a warm-up, the object count, and the dtype."""
    generate = recipe.spec.build(recipe)
    source = ObjectSource(recipe, generate)
    generator = getattr(generate, "generator", None)
    dtype = "float32"
    if generator is not None:
        if args.autocast is not None:
            generate.autocast_dtype = AUTOCAST[args.autocast]
        if generate.device.type == "cuda" and generate.autocast_dtype is not None:
            dtype = f"autocast {str(generate.autocast_dtype).removeprefix('torch.')}"
    source(image)  # warm-up
    best: dict[str, float] | None = None
    for _ in range(args.repeats):
        watch = Stopwatch()
        if generator is not None:
            predictor = generator.predictor
            watch.time_method(predictor, "set_image", "encoder")
            watch.time_method(
                predictor, "predict_torch" if hasattr(predictor, "predict_torch") else "_predict", "decode"
            )
            watch.time_method(generator, "generate", "generated")
        _synchronise(recipe)
        start, cpu_start = time.perf_counter(), time.process_time()
        found = source(image)
        _synchronise(recipe)
        total = time.perf_counter() - start
        seconds = dict(watch.seconds, total=total, cpu=time.process_time() - cpu_start)
        if generator is not None:
            seconds["post"] = seconds["generated"] - seconds["encoder"] - seconds["decode"]
            seconds["stage"] = total - seconds["generated"]
        if best is None or total < best["total"]:
            best = seconds
    return best, len(found), dtype


def _synchronise(recipe: SourceRecipe) -> None:
    if resolve_device(recipe.device).type == "cuda":
        torch.cuda.synchronize()


def model_types(name: str, all_models: bool) -> tuple[str | None, ...]:
    """The model types of source ``name`` to run (``(None,)`` for a source without weights)."""
    spec = SOURCES[name]
    if not spec.checkpoints:
        return (None,)
    return tuple(spec.checkpoints) if all_models else SMALL_MODEL_TYPES.get(name, (spec.default_model_type,))


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    image = read_rgb(TILE)
    device = resolve_device(args.device)
    grid = "each source's own" if args.reference_grid else f"{args.points_per_side} x {args.points_per_side}, no crops"
    print(
        f"tile {TILE.name} {image.shape[1]}x{image.shape[0]}; device {device}; torch {torch.__version__}, "
        f"{args.threads} CPU threads; point grid: {grid}; seconds per image, best of {args.repeats} after a warm-up"
    )
    print(row(["source", "model type", "weights", "points", "device", "dtype", *PARTS, "total", "CPU s", "objects"]))
    print(row(["---"] * 6 + ["---:"] * (len(PARTS) + 3)))
    for name in args.sources:
        for model_type in model_types(name, args.all_models):
            recipe, weights = recipe_of(name, model_type, args)
            points = "-" if name == "regions" else f"{recipe.settings.points_per_side}^2"
            head = [name, model_type or "-", weights, points, str(device)]
            try:
                seconds, count, dtype = timed_run(recipe, image, args)
            except (MissingDependencyError, ValueError) as error:
                print(row([*head, "-", f"not built here: {str(error).splitlines()[0]}"]), flush=True)
                continue
            parts = [f"{seconds[part]:.2f}" if part in seconds else "-" for part in PARTS]
            print(
                row([*head, dtype, *parts, f"{seconds['total']:.2f}", f"{seconds['cpu']:.2f}", str(count)]), flush=True
            )


if __name__ == "__main__":
    main()
