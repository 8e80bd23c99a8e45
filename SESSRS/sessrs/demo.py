"""The demo pipeline on the embedded real tiles: GeoSeg training and prediction, SAM objects, the t1/t2 sweep
and pick under two protocols, the refinement peers side by side, and the offline report.

Protocols: ``reference`` tunes the thresholds on the very tiles it reports (as the paper's scripts do);
``held_out`` is leave-one-tile-out cross-validation: each tile is refined with thresholds swept and picked on the
other tiles of its set only, and the per-tile confusion matrices are pooled.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from geoseg.datasets.folder import read_index_mask, read_rgb
from geoseg.datasets.labels import isprs_mmseg_to_geoseg, loveda_to_geoseg
from sam_objects.checkpoints import DEFAULT_MODEL_TYPE, default_checkpoint_path
from sam_objects.cli import SOURCE_NAMES
from sessrs.datasets import DatasetSpec, get_dataset
from sessrs.io import read_label_png, read_objects, write_json_atomic, write_label_png
from sessrs.metrics import compute_scores, confusion_matrix
from sessrs.peers import SESSRS, DenseCRF, ObjectMajorityVote, Peer, PeerInput, Unrefined
from sessrs.pick import pick_thresholds
from sessrs.report import heatmap_from_sweep, save_png_atomic, save_tile_panel, write_report
from sessrs.sweep import run_sweep

REPO_ROOT = Path(__file__).resolve().parents[2]
MAJORITY_VOTE_T1 = 0.5


@dataclass(frozen=True)
class SampleSet:
    """Embedded tiles sharing one label set: ``tiles`` are (name, image file, label file) under the source folder."""

    key: str
    dataset: str
    label: str
    tiles: tuple[tuple[str, str, str], ...]
    convert: Callable[[np.ndarray], np.ndarray]

    @property
    def spec(self) -> DatasetSpec:
        return get_dataset(self.dataset)


SAMPLE_SETS: dict[str, SampleSet] = {
    s.key: s
    for s in (
        SampleSet(
            key="loveda",
            dataset="Urban",
            label="LoveDA tiles (Urban classes)",
            tiles=tuple((f"mmseg_{i}", f"loveda/mmseg_{i}.png", f"loveda/mmseg_{i}_mask.png") for i in range(3)),
            convert=loveda_to_geoseg,
        ),
        SampleSet(
            key="isprs",
            dataset="potsdam",
            label="Potsdam and Vaihingen tiles (Potsdam classes)",
            tiles=(
                ("potsdam_2_10", "potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png",
                 "potsdam/top_potsdam_2_10_crop0_0_512_512_label_mmseg.png"),
                ("vaihingen_area1", "vaihingen/area1_0_0_512_512_IRRG.png",
                 "vaihingen/area1_0_0_512_512_label_mmseg.png"),
            ),
            convert=isprs_mmseg_to_geoseg,
        ),
    )
}


@dataclass
class DemoSettings:
    """What to run. The defaults are the full demo; tests shrink ``sets``, ``tiles``, ``crop`` and training."""

    out: Path
    source: Path = REPO_ROOT / "data" / "real_samples"
    sets: tuple[str, ...] = ("loveda", "isprs")
    tiles: int | None = None
    crop: int | None = None
    crops_per_tile: int = 1
    train_epochs: int | None = None
    objects: str = "auto"
    workers: int = 2
    pick_mode: str = "0.7"
    max_objects: int = 5


class Stages:
    """Stage banners with elapsed wall time, and the per-stage timings for the report."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        print(f"[demo {began - self.start:6.0f} s] {name} ...", flush=True)
        yield
        self.timings[name] = round(time.monotonic() - began, 1)
        print(f"[demo {time.monotonic() - self.start:6.0f} s] {name} done in {self.timings[name]:.0f} s", flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start


def run_script(script: Path, *args: str) -> None:
    """Run a stage script with this interpreter; its own progress output goes straight to the console."""
    command = [sys.executable, str(script), *args]
    print("  $ " + " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO_ROOT)


# ----------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Workspace:
    """The folders of one sample set under the demo's output folder."""

    root: Path

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def gt(self) -> Path:
        return self.root / "gt"

    @property
    def pred(self) -> Path:
        return self.root / "pred"

    @property
    def sam(self) -> Path:
        return self.root / "sam"

    def tiles(self) -> list[str]:
        return sorted(p.stem for p in self.images.glob("*.png"))


def read_dataset_label(sample: SampleSet, path: Path) -> np.ndarray:
    """A raw label PNG converted to the dataset's class ids; a clear error names a bad file."""
    raw = read_index_mask(path)
    try:
        return sample.convert(raw)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


def crop_windows(shape: tuple[int, int], crop: int | None, count: int) -> list[tuple[int, int]]:
    """Top-left corners of ``count`` non-overlapping ``crop`` squares, row-major; the whole tile when no crop."""
    if crop is None:
        return [(0, 0)]
    corners = [(r, c) for r in range(0, shape[0] - crop + 1, crop) for c in range(0, shape[1] - crop + 1, crop)]
    if len(corners) < count:
        raise ValueError(f"a {shape[0]}x{shape[1]} tile holds only {len(corners)} crops of {crop}, asked {count}")
    return corners[:count]


def prepare_set(sample: SampleSet, settings: DemoSettings, work: Workspace) -> list[str]:
    """Copy the set's tiles (cropped if asked) as ``images/<tile>.png`` and ``gt/<tile>.png`` (dataset ids)."""
    work.images.mkdir(parents=True, exist_ok=True)
    work.gt.mkdir(parents=True, exist_ok=True)
    names = []
    for tile, image_file, label_file in sample.tiles[: settings.tiles]:
        image = read_rgb(settings.source / image_file)
        label = read_dataset_label(sample, settings.source / label_file)
        if image.shape[:2] != label.shape:
            raise ValueError(f"{settings.source / image_file}: image and label {label_file} differ in size")
        windows = crop_windows(label.shape, settings.crop, settings.crops_per_tile)
        for index, (row, col) in enumerate(windows):
            name = tile if len(windows) == 1 else f"{tile}_c{index}"
            window = (slice(row, row + (settings.crop or label.shape[0])), slice(col, col + (settings.crop or label.shape[1])))
            save_png_atomic(work.images / f"{name}.png", Image.fromarray(image[window]))
            write_label_png(work.gt / f"{name}.png", label[window], sample.spec)
            names.append(name)
    return names


# ----------------------------------------------------------------------------------------------- objects

HQ_SAM_PREFERENCE = ("vit_tiny", "vit_b", "vit_l", "vit_h")


@dataclass(frozen=True)
class ObjectChoice:
    """The object source the demo uses: ``samhq`` with a backbone, or the weight-free ``regions``."""

    model: str
    model_type: str | None = None

    @property
    def description(self) -> str:
        name = SOURCE_NAMES[self.model]
        return f"{name}, {self.model_type} checkpoint {default_checkpoint_path(self.model, self.model_type).name}" \
            if self.model_type else name

    def arguments(self) -> list[str]:
        return ["--model", self.model, *(["--model-type", self.model_type] if self.model_type else [])]


def choose_objects(request: str) -> ObjectChoice:
    """HQ-SAM with the smallest backbone whose checkpoint is in ``weights/`` (``auto``), else ``regions``.

    ``samhq`` insists on HQ-SAM (the SAM stage names the missing file); ``regions`` never uses weights."""
    if request == "regions":
        return ObjectChoice("regions")
    present = [t for t in HQ_SAM_PREFERENCE if default_checkpoint_path("samhq", t).is_file()]
    if present or request == "samhq":
        return ObjectChoice("samhq", present[0] if present else DEFAULT_MODEL_TYPE["samhq"])
    return ObjectChoice("regions")


def make_objects(work: Workspace, choice: ObjectChoice) -> None:
    """``sam/<tile>.json`` for every tile by the SAM stage's script (it skips tiles already done)."""
    run_script(REPO_ROOT / "SAM" / "generate_json_sam.py", "-i", str(work.images), "-j", str(work.sam),
               *choice.arguments())


# ----------------------------------------------------------------------------------------------- protocols


@dataclass(frozen=True)
class Fold:
    """Thresholds are swept and picked on ``tune`` and applied to ``evaluate``."""

    name: str
    tune: tuple[str, ...]
    evaluate: tuple[str, ...]


PROTOCOLS = {
    "reference": (
        "Reference protocol",
        "Thresholds swept and picked on the same tiles that are reported, as the paper's scripts do.",
    ),
    "held_out": (
        "Held-out protocol (leave one tile out)",
        "Each tile is refined with thresholds swept and picked on the other tiles of its set only; the per-tile "
        "confusion matrices are pooled. Unrefined, majority vote and DenseCRF use no tuned thresholds, so their "
        "rows equal the reference protocol's.",
    ),
}


def protocol_folds(tiles: Sequence[str]) -> dict[str, list[Fold]]:
    """The reference fold (tune = evaluate = all tiles) and, with two tiles or more, leave-one-tile-out folds."""
    folds = {"reference": [Fold("all", tuple(tiles), tuple(tiles))]}
    if len(tiles) > 1:
        folds["held_out"] = [
            Fold(f"without_{tile}", tuple(t for t in tiles if t != tile), (tile,)) for tile in tiles
        ]
    return folds


def tune_fold(fold: Fold, work: Workspace, spec: DatasetSpec, out: Path, settings: DemoSettings) -> dict:
    """Sweep t1/t2 on the fold's tuning tiles (into ``out``) and pick the thresholds; returns the sweep and pick."""
    inputs = out / "inputs"
    for kind, source, suffix in (("pred", work.pred, ".png"), ("sam", work.sam, ".json"), ("gt", work.gt, ".png")):
        (inputs / kind).mkdir(parents=True, exist_ok=True)
        for tile in fold.tune:
            target = inputs / kind / f"{tile}{suffix}"
            if not target.exists():
                target.symlink_to((source / f"{tile}{suffix}").resolve())
    sweep = run_sweep(
        pred_dir=inputs / "pred", sam_dir=inputs / "sam", gt_dir=inputs / "gt", dataset=spec.name, out=out,
        workers=settings.workers,
    )
    picked = pick_thresholds(sweep, mode=settings.pick_mode)
    write_json_atomic(out / "best.json", picked)
    return {"sweep": sweep, "pick": picked}


def sessrs_peer(picked: dict, spec: DatasetSpec, max_objects: int) -> SESSRS:
    """The SESSRS peer for a pick (``t1``/``t2`` keyed by class id, as ints or strings)."""
    t1 = {int(k): float(v) for k, v in picked["t1"].items()}
    t2 = {int(k): float(v) for k, v in picked["t2"].items()}
    modify = [int(c) for c in picked["modify"]]
    return SESSRS(t1=t1, t2=t2, modify=modify, max_objects=max_objects, num_classes=spec.num_classes)


def fold_summary(fold: Fold, picked: dict, spec: DatasetSpec) -> dict:
    """The fold's tiles and picked thresholds with class names, for the report."""
    names = {int(k): spec.classes[int(k)] for k in picked["t1"]}
    return {
        "name": fold.name,
        "tune": list(fold.tune),
        "eval": list(fold.evaluate),
        "modify": [spec.classes[int(c)] for c in picked["modify"]],
        "t1": {names[int(k)]: float(v) for k, v in picked["t1"].items()},
        "t2": {names[int(k)]: float(v) for k, v in picked["t2"].items()},
    }


# ----------------------------------------------------------------------------------------------- evaluation


def load_tile(work: Workspace, name: str, spec: DatasetSpec) -> tuple[PeerInput, np.ndarray]:
    """A tile as the peers see it, and its ground truth."""
    pred = read_label_png(work.pred / f"{name}.png", spec)
    image = read_rgb(work.images / f"{name}.png")
    objects = read_objects(work.sam / f"{name}.json", shape=pred.shape)
    gt = read_label_png(work.gt / f"{name}.png", spec)
    if gt.shape != pred.shape:
        raise ValueError(f"{work.gt / (name + '.png')}: ground truth {gt.shape} and prediction {pred.shape} differ")
    return PeerInput(image=image, pred=pred, objects=objects, name=name), gt


def evaluate_peers(
    peers: Sequence[Peer], tiles: Sequence[str], work: Workspace, spec: DatasetSpec, out: Path
) -> dict[str, dict[str, np.ndarray]]:
    """Refine every tile with every peer into ``out/<peer>/<tile>.png``; returns peer -> tile -> confusion matrix."""
    matrices: dict[str, dict[str, np.ndarray]] = {peer.name: {} for peer in peers}
    for name in tqdm(tiles, desc=f"peers on {out.relative_to(out.parents[2])}", unit="tile"):
        tile, gt = load_tile(work, name, spec)
        for peer in peers:
            refined = peer(tile)
            write_label_png(out / peer.name / f"{name}.png", refined, spec)
            matrices[peer.name][name] = confusion_matrix(gt, refined, spec.num_classes)
    return matrices


def scores_row(peer: str, matrix: np.ndarray, spec: DatasetSpec) -> dict:
    """A report row: the reference's figures (x100, 2 decimals; undefined -> None) of a pooled confusion matrix."""
    figures = compute_scores(matrix, spec.scored).as_dict(spec.classes)
    clean = {key: _none_for_nan(value) for key, value in figures.items() if key in ("OA", "mIoU", "mF1", "mPA")}
    clean["IoU"] = {name: _none_for_nan(v) for name, v in figures["IoU"].items()}
    clean["F1"] = {name: _none_for_nan(v) for name, v in figures["F1"].items()}
    return {"peer": peer, **clean}


def _none_for_nan(value: float) -> float | None:
    return None if np.isnan(value) else value


# ----------------------------------------------------------------------------------------------- one sample set


def fixed_peers(spec: DatasetSpec) -> list[Peer]:
    """The peers that tune nothing on the tiles: the same in every protocol and fold."""
    return [Unrefined(), ObjectMajorityVote(t1=MAJORITY_VOTE_T1), DenseCRF(num_classes=spec.num_classes)]


def pooled(matrices: dict[str, np.ndarray], tiles: Sequence[str]) -> np.ndarray:
    return np.sum([matrices[tile] for tile in tiles], axis=0)


def run_protocols(
    tiles: Sequence[str], work: Workspace, spec: DatasetSpec, settings: DemoSettings
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, list[dict]], dict]:
    """Tune, apply and score every protocol of one set.

    Returns protocol -> peer -> pooled confusion matrix, protocol -> fold summaries, and the reference sweep."""
    folds = protocol_folds(tiles)
    tuned = {
        (protocol, fold.name): tune_fold(fold, work, spec, work.root / "sweep" / protocol / fold.name, settings)
        for protocol, protocol_folds_ in folds.items()
        for fold in protocol_folds_
    }
    reference_pick = tuned[("reference", "all")]["pick"]
    reference = evaluate_peers(
        [*fixed_peers(spec), sessrs_peer(reference_pick, spec, settings.max_objects)],
        tiles, work, spec, work.root / "refined" / "reference",
    )
    matrices = {"reference": {peer: pooled(per_tile, tiles) for peer, per_tile in reference.items()}}
    summaries = {"reference": [fold_summary(folds["reference"][0], reference_pick, spec)]}
    if "held_out" in folds:
        held_out: dict[str, np.ndarray] = {}
        summaries["held_out"] = []
        for fold in folds["held_out"]:
            picked = tuned[("held_out", fold.name)]["pick"]
            result = evaluate_peers(
                [sessrs_peer(picked, spec, settings.max_objects)], fold.evaluate, work, spec,
                work.root / "refined" / "held_out",
            )
            held_out.update(result["sessrs"])
            summaries["held_out"].append(fold_summary(fold, picked, spec))
        matrices["held_out"] = {
            **{peer: matrix for peer, matrix in matrices["reference"].items() if peer != "sessrs"},
            "sessrs": pooled(held_out, tiles),
        }
    return matrices, summaries, tuned[("reference", "all")]["sweep"]


def tile_panels(tiles: Sequence[str], work: Workspace, spec: DatasetSpec, out: Path, prefix: str) -> list[dict]:
    """One panel per tile with the reference protocol's SESSRS result; paths relative to ``out``."""
    panels = []
    for name in tiles:
        tile, gt = load_tile(work, name, spec)
        refined = read_label_png(work.root / "refined" / "reference" / "sessrs" / f"{name}.png", spec)
        relative = f"panels/{prefix}_{name}.png"
        masks = [tile.masks[..., i] for i in range(tile.masks.shape[2])]
        counts = save_tile_panel(out / relative, tile.image, gt, tile.pred, masks, refined, spec)
        panels.append({"tile": name, "image": relative, **counts})
    return panels


def heatmaps(sweep: dict, sweep_dir: Path, spec: DatasetSpec, out: Path) -> list[dict]:
    """The reference sweep's t1 x t2 grids per class, with the sweep's heatmap PNG when it wrote one."""
    grids = []
    for key in sweep["sweeps"]:
        name = spec.classes[int(key)]
        picture = sweep_dir / f"heatmap_{name}.png"
        relative = picture.relative_to(out).as_posix() if picture.is_file() else None
        grids.append(heatmap_from_sweep(sweep, int(key), name, image=relative))
    return grids


def run_set(sample: SampleSet, settings: DemoSettings, objects: ObjectChoice, stages: Stages) -> tuple[dict, dict]:
    """The whole pipeline for one sample set; returns its report group and its metrics entry."""
    spec = sample.spec
    work = Workspace(settings.out / sample.key)
    with stages.stage(f"{sample.key}: prepare tiles"):
        tiles = prepare_set(sample, settings, work)
    with stages.stage(f"{sample.key}: train and predict (GeoSeg UNetFormer)"):
        predict_set(sample, work, settings)
    with stages.stage(f"{sample.key}: objects ({objects.description})"):
        make_objects(work, objects)
    with stages.stage(f"{sample.key}: sweep, pick, apply, peers"):
        matrices, summaries, sweep = run_protocols(tiles, work, spec, settings)
    with stages.stage(f"{sample.key}: panels"):
        panels = tile_panels(tiles, work, spec, settings.out, sample.key)
    protocols = []
    metrics = {}
    for protocol, per_peer in matrices.items():
        rows = [scores_row(peer, matrix, spec) for peer, matrix in per_peer.items()]
        title, description = PROTOCOLS[protocol]
        protocols.append({"key": protocol, "title": title, "description": description,
                          "folds": summaries[protocol], "rows": rows})
        metrics[protocol] = {row["peer"]: {**row, "confusion_matrix": per_peer[row["peer"]].tolist()} for row in rows}
    group = {
        "key": sample.key,
        "label": sample.label,
        "dataset": spec.name,
        "classes": [spec.classes[c] for c in spec.scored],
        "tiles": tiles,
        "protocols": protocols,
        "heatmaps": heatmaps(sweep, work.root / "sweep" / "reference" / "all", spec, settings.out),
        "panels": panels,
    }
    return group, {"dataset": spec.name, "tiles": tiles, "protocols": metrics}


def run_demo(settings: DemoSettings) -> Path:
    """Run the demo into ``settings.out``; returns the path of ``report.html``."""
    stages = Stages()
    settings.out.mkdir(parents=True, exist_ok=True)
    objects = choose_objects(settings.objects)
    groups, metrics = [], {}
    for key in settings.sets:
        group, metrics[key] = run_set(SAMPLE_SETS[key], settings, objects, stages)
        groups.append(group)
    write_json_atomic(settings.out / "metrics.json", metrics)
    report = {
        "title": "SESSRS demo on the embedded real tiles",
        "generated_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_time_s": round(stages.elapsed, 1),
        "object_source": objects.description,
        "notes": standing_notes(settings),
        "timings_s": stages.timings,
        "groups": groups,
    }
    html_path, _ = write_report(settings.out, report)
    print(f"[demo {stages.elapsed:6.0f} s] report: {html_path}", flush=True)
    return html_path
