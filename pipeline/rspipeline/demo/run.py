"""The demo pipeline on the embedded real tiles: GeoSeg training and prediction, object masks, the t1/t2 sweep,
pick and application under two protocols, the refinement peers side by side, and the offline report.

Protocols: ``reference`` sweeps and picks on the very tiles it reports (as the paper's scripts do);
``held_out`` is leave-one-tile-out: each tile is refined with thresholds swept and picked on the other tiles of
its set only, and the per-tile confusion matrices are pooled.

Everything lands under the output folder; running again reuses what is already there (training, predictions,
objects, sweeps and applications are each resumable).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from geoseg.datasets import SampleDataset
from rscommon.datasets import DatasetSpec, get_dataset
from rscommon.files import save_png_atomic, write_json_atomic
from rscommon.images import read_rgb
from rscommon.labels import read_label_png, write_label_png
from rscommon.metrics import compute_scores, confusion_matrix
from rscommon.objects import read_objects
from rscommon.paths import REPO_ROOT
from rspipeline.peers import SESSRS, DenseCRF, ObjectMajorityVote, Peer, PeerInput, Unrefined
from rspipeline.report import heatmap_from_sweep, save_tile_panel, write_report
from sam_objects.checkpoints import DEFAULT_MODEL_TYPE, default_checkpoint_path
from sam_objects.cli import SOURCE_NAMES
from sessrs.inputs import Sample, pair_inputs, select
from sessrs.pick import pick_and_apply
from sessrs.sweep import run_sweep

GEOSEG = REPO_ROOT / "GeoSeg"
SAMPLE_CONFIGS = GEOSEG / "config" / "sample"
MAJORITY_VOTE_T1 = 0.5


@dataclass(frozen=True)
class SampleSet:
    """Embedded tiles sharing one label set: GeoSeg sample ``sources``, trained with the sample ``config``."""

    key: str
    dataset: str
    label: str
    sources: tuple[str, ...]
    config: Path

    @property
    def spec(self) -> DatasetSpec:
        return get_dataset(self.dataset)


SAMPLE_SETS: dict[str, SampleSet] = {
    s.key: s
    for s in (
        SampleSet("loveda", "Urban", "LoveDA tiles (Urban classes)", ("loveda",), SAMPLE_CONFIGS / "unetformer.py"),
        SampleSet("isprs", "potsdam", "Potsdam and Vaihingen tiles (Potsdam classes)", ("potsdam", "vaihingen"),
                  SAMPLE_CONFIGS / "unetformer_potsdam.py"),
    )
}


@dataclass
class DemoSettings:
    """What to run. The defaults are the full demo; tests shrink the tiles and the training."""

    out: Path
    sets: tuple[str, ...] = ("loveda", "isprs")
    tiles: int | None = None
    crop: int | None = None
    crops_per_tile: int = 1
    train_epochs: int | None = None
    train_batches: int | None = None
    val_batches: int | None = None
    objects: str = "auto"
    workers: int = 2
    pick_mode: str = "0.7"
    max_objects: int = 5


class Stages:
    """Stage banners with the elapsed wall time, and the per-stage timings for the report."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        print(f"[demo {began - self.start:5.0f} s] {name} ...", flush=True)
        yield
        self.timings[name] = round(time.monotonic() - began, 1)
        print(f"[demo {time.monotonic() - self.start:5.0f} s] {name}: done in {self.timings[name]:.0f} s", flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start


class StageError(RuntimeError):
    """A stage's script failed; its own output, above the message, says why."""


def run_script(script: Path, *args: str) -> None:
    """Run a stage's script with this interpreter; its own progress output goes straight to the console."""
    command = [sys.executable, str(script), *args]
    print("  $ " + " ".join(command), flush=True)
    completed = subprocess.run(command, cwd=REPO_ROOT)
    if completed.returncode != 0:
        raise StageError(f"{script} failed with exit status {completed.returncode} "
                         "(see its output above); run the demo again to continue from there")


# ----------------------------------------------------------------------------------------------- tiles


@dataclass(frozen=True)
class Workspace:
    """The folders of one sample set under the demo's output folder; objects are kept per object source."""

    root: Path
    objects: str

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
        return self.root / "sam" / self.objects

    @property
    def geoseg(self) -> Path:
        return self.root / "geoseg"


@dataclass(frozen=True)
class TileWindow:
    """A demo tile: the window ``rows`` x ``cols`` of the GeoSeg sample image ``source_id``."""

    name: str
    source_id: str
    rows: slice
    cols: slice


def crop_windows(shape: tuple[int, int], crop: int | None, count: int) -> list[tuple[slice, slice]]:
    """``count`` non-overlapping ``crop`` squares in row-major order; the whole tile when ``crop`` is None."""
    if crop is None:
        return [(slice(0, shape[0]), slice(0, shape[1]))]
    corners = [(r, c) for r in range(0, shape[0] - crop + 1, crop) for c in range(0, shape[1] - crop + 1, crop)]
    if len(corners) < count:
        raise ValueError(f"a {shape[0]}x{shape[1]} tile holds only {len(corners)} crops of {crop}, asked {count}")
    return [(slice(r, r + crop), slice(c, c + crop)) for r, c in corners[:count]]


def prepare_set(sample: SampleSet, settings: DemoSettings, work: Workspace) -> list[TileWindow]:
    """Write the set's tiles (cropped if asked) as ``images/<tile>.png`` and ``gt/<tile>.png`` (class ids)."""
    windows = []
    for source in sample.sources:
        dataset = SampleDataset(source)
        for index in range(len(dataset)):
            if settings.tiles is not None and len(windows) >= settings.tiles * settings.crops_per_tile:
                return windows
            source_id, image, label = dataset.load(index)
            crops = crop_windows(label.shape, settings.crop, settings.crops_per_tile)
            for number, (rows, cols) in enumerate(crops):
                name = source_id if len(crops) == 1 else f"{source_id}_c{number}"
                save_png_atomic(work.images / f"{name}.png", Image.fromarray(image[rows, cols]))
                write_label_png(work.gt / f"{name}.png", label[rows, cols], sample.spec)
                windows.append(TileWindow(name, source_id, rows, cols))
    return windows


# ----------------------------------------------------------------------------------------------- GeoSeg


def train_and_predict(sample: SampleSet, work: Workspace, settings: DemoSettings) -> Path:
    """Train the set's config briefly (unless its checkpoint exists) and predict its sample images.

    Returns the folder of full-tile predictions (``pre_p/<sample id>.png``)."""
    common = ["-c", str(sample.config), "--work-dir", str(work.geoseg), "--num-workers", "0"]
    if not list((work.geoseg / "model_weights").rglob("*.ckpt")):
        limits = [
            *(["--max-epochs", str(settings.train_epochs)] if settings.train_epochs else []),
            *(["--limit-train-batches", str(settings.train_batches)] if settings.train_batches else []),
            *(["--limit-val-batches", str(settings.val_batches)] if settings.val_batches else []),
        ]
        run_script(GEOSEG / "train_supervision.py", *common, *limits)
    predictions = work.geoseg / "predict"
    run_script(GEOSEG / "test.py", *common, "-o", str(predictions), "--resume")
    return predictions / "pre_p"


def crop_predictions(windows: Sequence[TileWindow], predictions: Path, work: Workspace, spec: DatasetSpec) -> None:
    """``pred/<tile>.png``: each demo tile's window of its full-tile prediction."""
    for window in windows:
        full = read_label_png(predictions / f"{window.source_id}.png", spec)
        write_label_png(work.pred / f"{window.name}.png", full[window.rows, window.cols], spec)


# ----------------------------------------------------------------------------------------------- objects

HQ_SAM_PREFERENCE = ("vit_tiny", "vit_b", "vit_l", "vit_h")


@dataclass(frozen=True)
class ObjectChoice:
    """The object source the demo uses: ``samhq`` with a backbone, or the weight-free ``regions``."""

    model: str
    model_type: str | None = None

    @property
    def key(self) -> str:
        return "_".join(filter(None, (self.model, self.model_type)))

    @property
    def description(self) -> str:
        if self.model_type is None:
            return SOURCE_NAMES[self.model]
        checkpoint = default_checkpoint_path(self.model, self.model_type).name
        return f"{SOURCE_NAMES[self.model]}, {self.model_type} ({checkpoint})"

    def arguments(self) -> list[str]:
        return ["--model", self.model, *(["--model-type", self.model_type] if self.model_type else [])]


def choose_objects(request: str) -> ObjectChoice:
    """``auto``: HQ-SAM with the smallest backbone whose checkpoint is in ``weights/``, else ``regions``.

    ``samhq`` insists on HQ-SAM (the SAM stage then names the missing file); ``regions`` never uses weights."""
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
        "Reference protocol (thresholds tuned on the reported tiles)",
        "Thresholds swept and picked on the same tiles that are reported, as the paper's scripts do.",
    ),
    "held_out": (
        "Held-out protocol (leave one tile out)",
        "Each tile is refined with thresholds swept and picked on the other tiles of its set only; the per-tile "
        "confusion matrices are pooled. Unrefined, majority vote and DenseCRF tune nothing, so their rows equal "
        "the reference protocol's.",
    ),
}


def protocol_folds(tiles: Sequence[str]) -> dict[str, list[Fold]]:
    """The reference fold (tune = evaluate = all tiles) and, with two tiles or more, leave-one-tile-out folds."""
    folds = {"reference": [Fold("all", tuple(tiles), tuple(tiles))]}
    if len(tiles) > 1:
        folds["held_out"] = [Fold(f"without_{t}", tuple(o for o in tiles if o != t), (t,)) for t in tiles]
    return folds


def tune_and_apply(fold: Fold, samples: list[Sample], spec: DatasetSpec, out: Path, settings: DemoSettings) -> dict:
    """Sweep on the fold's tuning tiles, pick, and apply to its evaluation tiles (the SESSRS stage's own API).

    ``out`` receives ``sweep/`` (sweep.json, heatmaps), ``best.json``, ``metrics.json`` and ``se_mask/``."""
    tune, evaluate = (select(samples, names, f"fold {fold.name}") for names in (fold.tune, fold.evaluate))
    sweep = run_sweep(tune, spec, out / "sweep", workers=settings.workers)
    applied = pick_and_apply(
        out / "sweep" / "sweep.json", evaluate, spec, out, out / "se_mask",
        mode=settings.pick_mode, max_objects=settings.max_objects, workers=settings.workers,
    )
    return {"sweep": sweep, "best": applied["best"]}


def sessrs_peer(best: dict, spec: DatasetSpec, max_objects: int) -> SESSRS:
    """The SESSRS peer for a pick (``t1``/``t2`` keyed by class id)."""
    t1 = {int(k): float(v) for k, v in best["t1"].items()}
    t2 = {int(k): float(v) for k, v in best["t2"].items()}
    modify = [int(c) for c in best["modify"]]
    return SESSRS(t1=t1, t2=t2, modify=modify, max_objects=max_objects, num_classes=spec.num_classes)


def fold_summary(fold: Fold, best: dict, spec: DatasetSpec) -> dict:
    """The fold's tiles and picked thresholds by class name, for the report."""
    return {
        "name": fold.name,
        "tune": list(fold.tune),
        "eval": list(fold.evaluate),
        "modify": [spec.classes[int(c)] for c in best["modify"]],
        "t1": {spec.classes[int(k)]: float(v) for k, v in best["t1"].items()},
        "t2": {spec.classes[int(k)]: float(v) for k, v in best["t2"].items()},
    }


# ----------------------------------------------------------------------------------------------- peers


def fixed_peers(spec: DatasetSpec) -> list[Peer]:
    """The peers that tune nothing on the tiles: the same in every protocol and fold."""
    return [Unrefined(), ObjectMajorityVote(t1=MAJORITY_VOTE_T1), DenseCRF(num_classes=spec.num_classes)]


def load_tile(work: Workspace, name: str, spec: DatasetSpec) -> tuple[PeerInput, np.ndarray]:
    """A tile as the peers see it, and its ground truth."""
    pred = read_label_png(work.pred / f"{name}.png", spec)
    objects = read_objects(work.sam / f"{name}.json", shape=pred.shape)
    gt = read_label_png(work.gt / f"{name}.png", spec)
    return PeerInput(image=read_rgb(work.images / f"{name}.png"), pred=pred, objects=objects, name=name), gt


def evaluate_peers(peers: Sequence[Peer], tiles: Sequence[str], work: Workspace, spec: DatasetSpec,
                   out: Path) -> dict[str, dict[str, np.ndarray]]:
    """Refine every tile with every peer into ``out/<peer>/<tile>.png``; returns peer -> tile -> confusion matrix."""
    matrices: dict[str, dict[str, np.ndarray]] = {peer.name: {} for peer in peers}
    for name in tqdm(tiles, desc=f"peers ({', '.join(matrices)})", unit="tile"):
        tile, gt = load_tile(work, name, spec)
        for peer in peers:
            refined = peer(tile)
            write_label_png(out / peer.name / f"{name}.png", refined, spec)
            matrices[peer.name][name] = confusion_matrix(gt, refined, spec.num_classes)
    return matrices


def pooled(per_tile: dict[str, np.ndarray]) -> np.ndarray:
    return np.sum(list(per_tile.values()), axis=0)


def scores_row(peer: str, matrix: np.ndarray, spec: DatasetSpec) -> dict:
    """A report row: the reference's figures of a pooled confusion matrix (x100, 2 decimals; undefined -> None)."""
    scores = compute_scores(matrix, spec.scored)
    figures = scores.as_dict(spec.classes)
    per_class = scores.per_class(spec.classes)
    return {
        "peer": peer,
        **{key: _none_for_nan(figures[key]) for key in ("OA", "mIoU", "mF1", "mPA")},
        "IoU": {name: _none_for_nan(v) for name, v in figures["IoU"].items()},
        "F1": {name: _none_for_nan(v["F1"]) for name, v in per_class.items()},
    }


def _none_for_nan(value: float) -> float | None:
    return None if np.isnan(value) else value


# ----------------------------------------------------------------------------------------------- one set


@dataclass
class SetResults:
    """Pooled confusion matrices per protocol and peer, fold summaries, and the reference sweep."""

    matrices: dict[str, dict[str, np.ndarray]]
    folds: dict[str, list[dict]]
    sweep: dict


def run_protocols(tiles: Sequence[str], work: Workspace, spec: DatasetSpec, settings: DemoSettings) -> SetResults:
    """Tune, apply and score every protocol of one set; the peers run on the same predictions and objects."""
    samples = pair_inputs(work.pred, work.sam, work.gt)
    results = SetResults(matrices={}, folds={}, sweep={})
    for protocol, folds in protocol_folds(tiles).items():
        per_peer: dict[str, dict[str, np.ndarray]] = {}
        results.folds[protocol] = []
        for fold in folds:
            tuned = tune_and_apply(fold, samples, spec, work.root / protocol / fold.name, settings)
            peers = [sessrs_peer(tuned["best"], spec, settings.max_objects)]
            if protocol == "reference":
                peers = [*fixed_peers(spec), *peers]
                results.sweep = tuned["sweep"]
            for peer, per_tile in evaluate_peers(peers, fold.evaluate, work, spec,
                                                 work.root / "refined" / protocol).items():
                per_peer.setdefault(peer, {}).update(per_tile)
            results.folds[protocol].append(fold_summary(fold, tuned["best"], spec))
        results.matrices[protocol] = {peer: pooled(per_tile) for peer, per_tile in per_peer.items()}
    if "held_out" in results.matrices:
        sessrs_held_out = results.matrices["held_out"].pop("sessrs")
        results.matrices["held_out"] = {**results.matrices["reference"], "sessrs": sessrs_held_out}
    return results


def tile_panels(tiles: Sequence[str], work: Workspace, spec: DatasetSpec, out: Path, prefix: str) -> list[dict]:
    """One panel per tile with the reference protocol's SESSRS result; image paths relative to ``out``."""
    panels = []
    for name in tqdm(tiles, desc="panels", unit="tile"):
        tile, gt = load_tile(work, name, spec)
        refined = read_label_png(work.root / "refined" / "reference" / "sessrs" / f"{name}.png", spec)
        relative = f"panels/{prefix}_{name}.png"
        masks = [tile.masks[..., i] for i in range(tile.masks.shape[2])]
        counts = save_tile_panel(out / relative, tile.image, gt, tile.pred, masks, refined, spec)
        panels.append({"tile": name, "image": relative, **counts})
    return panels


def heatmaps(sweep: dict, sweep_dir: Path, spec: DatasetSpec, out: Path) -> list[dict]:
    """The reference sweep's t1 x t2 grids per class, with the sweep's own heatmap PNG when it wrote one."""
    grids = []
    for key in sweep["sweeps"]:
        name = spec.classes[int(key)]
        picture = sweep_dir / f"heatmap_{key}_{name}.png"
        relative = picture.relative_to(out).as_posix() if picture.is_file() else None
        grids.append(heatmap_from_sweep(sweep, int(key), name, image=relative))
    return grids


def run_set(sample: SampleSet, settings: DemoSettings, objects: ObjectChoice, stages: Stages) -> tuple[dict, dict]:
    """The whole pipeline for one sample set; returns its report group and its metrics entry."""
    spec = sample.spec
    work = Workspace(settings.out / sample.key, objects.key)
    with stages.stage(f"{sample.key}: prepare tiles"):
        windows = prepare_set(sample, settings, work)
        tiles = [w.name for w in windows]
    with stages.stage(f"{sample.key}: train and predict (GeoSeg sample UNetFormer, CPU)"):
        crop_predictions(windows, train_and_predict(sample, work, settings), work, spec)
    with stages.stage(f"{sample.key}: objects ({objects.description})"):
        make_objects(work, objects)
    with stages.stage(f"{sample.key}: sweep, pick, apply, peers"):
        results = run_protocols(tiles, work, spec, settings)
    with stages.stage(f"{sample.key}: panels"):
        panels = tile_panels(tiles, work, spec, settings.out, sample.key)
    protocols, metrics = [], {}
    for protocol, per_peer in results.matrices.items():
        rows = [scores_row(peer, matrix, spec) for peer, matrix in per_peer.items()]
        title, description = PROTOCOLS[protocol]
        protocols.append({"key": protocol, "title": title, "description": description,
                          "folds": results.folds[protocol], "rows": rows})
        metrics[protocol] = {row["peer"]: {**row, "confusion_matrix": per_peer[row["peer"]].tolist()}
                             for row in rows}
    group = {
        "key": sample.key,
        "label": sample.label,
        "dataset": spec.name,
        "classes": [spec.classes[c] for c in spec.scored],
        "tiles": tiles,
        "protocols": protocols,
        "heatmaps": heatmaps(results.sweep, work.root / "reference" / "all" / "sweep", spec, settings.out),
        "panels": panels,
    }
    return group, {"dataset": spec.name, "tiles": tiles, "protocols": metrics}


def standing_notes(settings: DemoSettings, objects: ObjectChoice) -> list[str]:
    """What the reader needs to know to judge the figures."""
    notes = [
        f"Objects: {objects.description}."
        + (" These are superpixel regions, not SAM: put an HQ-SAM checkpoint (e.g. weights/sam_hq_vit_tiny.pth) "
           "in weights/ to use SAM." if objects.model == "regions" else ""),
        "Predictions: GeoSeg's sample UNetFormer trained briefly on CPU from random weights on the same tiles it "
        "then predicts; this shows the pipeline working, not the paper's accuracy.",
        f"Peers: majority vote paints an object with its majority class when it covers more than "
        f"{MAJORITY_VOTE_T1} of it (larger objects first); DenseCRF (pydensecrf2) uses the prediction as a "
        f"0.7-confidence unary with the default Gaussian and bilateral terms; SESSRS applies the picked thresholds "
        f"with max_objects {settings.max_objects} (threshold mode {settings.pick_mode}).",
        "Means as the reference computes them: mIoU, mF1 and mPA ignore undefined (NaN) classes, so a class that a "
        "method stops predicting altogether drops out of mF1; mIoU and OA are the figures to compare.",
    ]
    if settings.crop:
        notes.append(f"Cut-down run: tiles cropped to {settings.crop} x {settings.crop} "
                     f"({settings.crops_per_tile} per tile), predictions cropped from the full-tile prediction.")
    return notes


def run_demo(settings: DemoSettings) -> Path:
    """Run the demo into ``settings.out``; returns the path of ``report.html``."""
    stages = Stages()
    settings = replace(settings, out=settings.out.resolve())
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
        "notes": standing_notes(settings, objects),
        "timings_s": stages.timings,
        "groups": groups,
    }
    html_path, _ = write_report(settings.out, report)
    print(f"[demo {stages.elapsed:5.0f} s] report: {html_path}", flush=True)
    return html_path
