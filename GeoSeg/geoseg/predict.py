"""Predict a config's test images with a checkpoint: label maps, metrics, resumable, locally or on a Dask cluster.

Writes ``<output>/pre_p/<id>.png`` (P-mode, dataset palette: what SESSRS reads) or ``pre_rgb/`` (colour), and,
when the images have labels, ``metrics.json`` (mIoU/F1/OA). ``<output>/predictions.json`` records what the label
maps were made from: the checkpoint's and the config's identity (content hash), the test-time augmentation and
each image's identity. With ``resume``, a label map is reused only when all of these are unchanged and the file
is the one written; anything else is recomputed, and the run says what changed.

Images are predicted in fixed batches of ``batch_size`` in dataset order; with ``scheduler`` each batch is a task
on that Dask cluster (the workers load the config and checkpoint themselves, so the config, the checkpoint, the
images and the output folder must be on storage they share). The batches are the same either way, and the tasks
use as many torch threads as this process (CPU sums differ in their last bits with the thread count), so the
results are identical to the local run on the same kind of machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset
from torch.utils.data.dataloader import default_collate
from tqdm import tqdm

from rscommon.datasets import get_dataset
from rscommon.files import InputError, read_json, write_json_atomic
from rscommon.labels import read_label_png, write_label_png, write_rgb_png
from rscommon.locks import folder_locked
from rscommon.metrics import compute_scores, confusion_matrix
from rscommon.outputs import check_output_folder
from rscommon.parallel import Execution, unordered_map
from rscommon.provenance import file_identity, fingerprint, what_changed

from .checkpoint import load_net_weights
from .config import Config, load_config
from .datasets import SegmentationFolder
from .inference import tta_scales, with_tta
from .input_checks import check_images
from .paths import GEOSEG_ROOT

PREDICTION_RECORD = "predictions.json"
METRICS_FILE = "metrics.json"
PREDICT_VERSION = "geoseg-predict-1"


@dataclass(frozen=True)
class PredictOptions:
    """How to predict: the checkpoint, the output folder, test-time augmentation and where to run."""

    checkpoint: Path
    output: Path
    tta: str
    rgb: bool = False
    batch_size: int = 2
    num_workers: int = 2
    resume: bool = False
    device: str = "cpu"
    scheduler: str | None = None
    # CPU results differ in the last float bits with the thread count, so cluster tasks use the client's.
    threads: int = field(default_factory=torch.get_num_threads)

    @property
    def label_dir(self) -> Path:
        return self.output / ("pre_rgb" if self.rgb else "pre_p")


def default_output(config_path: Path) -> Path:
    """``GeoSeg/fig_results/<config folder>/<config name>``, the layout SESSRS reads."""
    return GEOSEG_ROOT / "fig_results" / config_path.parent.name / config_path.stem


def folders_of(dataset: Dataset) -> list[SegmentationFolder]:
    """The image/mask folders behind a test dataset (one, or the parts of a ``ConcatDataset``)."""
    if isinstance(dataset, ConcatDataset):
        return [folder for part in dataset.datasets for folder in folders_of(part)]
    if isinstance(dataset, SegmentationFolder):
        return [dataset]
    raise InputError(f"test_dataset is a {type(dataset).__name__}; prediction reads GeoSeg folder datasets")


def image_paths(dataset: Dataset) -> list[tuple[str, Path]]:
    """``(img_id, image file)`` of every item of the dataset, in order; ids must be unique (they name outputs)."""
    items = [
        (img_id, folder.image_path(img_id))
        for folder in folders_of(dataset)
        for img_id in folder.img_ids * folder.repeats
    ]
    seen: dict[str, Path] = {}
    for img_id, path in items:
        if img_id in seen:
            raise InputError(f"{seen[img_id]} and {path} would both be predicted as {img_id}.png")
        seen[img_id] = path
    return items


def run_fingerprint(config: Config, options: PredictOptions) -> dict:
    """What every label map of a run depends on besides its own image."""
    return fingerprint(
        {"checkpoint": options.checkpoint, "config": config.config_path},
        {"tta": options.tta, "rgb": options.rgb},
        PREDICT_VERSION,
    )


def predict(config: Config, options: PredictOptions) -> dict | None:
    """Predict ``config.test_dataset``; returns the scores (also in ``metrics.json``) or ``None`` without labels."""
    if not options.checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {options.checkpoint} not found")
    dataset = config.test_dataset
    folders = folders_of(dataset)
    images = image_paths(dataset)
    check_images(config.net, [path for _, path in images], tta_scales(options.tta))
    inputs = {
        f"{kind} ({folder.root})": folder.root / sub
        for folder in folders
        for kind, sub in (("image", folder.img_dir), ("mask", folder.mask_dir))
    }
    for output in (options.output, options.label_dir):
        check_output_folder(output, inputs, "-o")
    with folder_locked(options.output, f"-o {options.output}"):
        return _predict_into(config, options, dataset, folders, images)


def _predict_into(
    config: Config,
    options: PredictOptions,
    dataset: Dataset,
    folders: list[SegmentationFolder],
    images: list[tuple[str, Path]],
) -> dict | None:
    """:func:`predict` once its output folder is checked and held by this run."""
    run = run_fingerprint(config, options)
    identities = {img_id: file_identity(path) for img_id, path in images}
    record = {"run": run, "images": {}}
    reused = _reusable(options, run, identities) if options.resume else {}
    record["images"].update(reused)
    todo = [index for index, (img_id, _) in enumerate(images) if img_id not in reused]
    batches = [todo[i : i + options.batch_size] for i in range(0, len(todo), options.batch_size)]
    predictor = Predictor(config, options) if batches else None  # a checkpoint that does not fit fails here
    print(
        f"{len(images)} image(s), checkpoint {options.checkpoint}, output {options.label_dir}: "
        f"{len(reused)} kept, {len(todo)} to predict"
        + (f" on {options.scheduler}" if options.scheduler else f" on {options.device}")
    )
    options.label_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = options.output / METRICS_FILE
    if batches:
        metrics_path.unlink(missing_ok=True)  # an interrupted run leaves no figures of other label maps behind
    has_labels = all(folder.has_masks for folder in folders)
    spec = get_dataset(config.dataset)
    confusion = np.zeros((config.num_classes, config.num_classes), dtype=np.int64)
    for done in _run_batches(predictor, batches):
        for img_id, prediction_identity in done.written:
            record["images"][img_id] = {"image": identities[img_id], "prediction": prediction_identity}
        if done.confusion is not None:
            confusion += done.confusion
        write_json_atomic(options.output / PREDICTION_RECORD, record)
    write_json_atomic(options.output / PREDICTION_RECORD, record)
    if not has_labels:
        missing = ", ".join(str(f.root / f.mask_dir) for f in folders if not f.has_masks)
        metrics_path.unlink(missing_ok=True)  # never leave another run's figures beside these predictions
        print(f"metrics skipped: no label folder {missing} (mIoU/F1/OA need the ground-truth masks)")
        return None
    by_index = {img_id: index for index, (img_id, _) in enumerate(images)}
    for img_id in reused:
        labels = _ground_truth(dataset, by_index[img_id])
        prediction = read_label_png(options.label_dir / f"{img_id}.png", spec)
        confusion += confusion_matrix(labels, prediction, config.num_classes)
    scores = compute_scores(confusion, spec.scored).as_dict(spec.classes)
    write_json_atomic(metrics_path, scores)
    return scores


def _reusable(options: PredictOptions, run: dict, identities: dict[str, dict]) -> dict[str, dict]:
    """The label maps of a previous run that match this one exactly (a changed run says what changed)."""
    path = options.output / PREDICTION_RECORD
    if not path.is_file():
        return {}
    try:
        previous = read_json(path)
        previous_run, previous_images = previous["run"], previous["images"]
    except (InputError, KeyError, TypeError):
        print(f"resume: {path} is unreadable; predicting every image again")
        return {}
    changed = what_changed(previous_run, run)
    if changed:
        print(
            f"resume: {', '.join(changed)} changed since the label maps in {options.label_dir} were made; "
            f"predicting every image again"
        )
        return {}
    kept, stale = {}, []
    for img_id, identity in identities.items():
        entry = previous_images.get(img_id)
        target = options.label_dir / f"{img_id}.png"
        if (
            entry
            and entry.get("image") == identity
            and target.is_file()
            and entry.get("prediction") == file_identity(target)
        ):
            kept[img_id] = entry
        elif entry:
            stale.append(img_id)
    if stale:
        print(
            f"resume: {len(stale)} image(s) or label map(s) changed ({', '.join(stale[:5])}"
            f"{', ...' if len(stale) > 5 else ''}); predicting them again"
        )
    return kept


def _ground_truth(dataset: Dataset, index: int) -> np.ndarray:
    for folder in folders_of(dataset):
        if index < len(folder):
            return folder.load(index)[2]
        index -= len(folder)
    raise IndexError(index)


@dataclass
class BatchResult:
    """The label maps one batch wrote (id, file identity) and its confusion matrix (``None`` without labels)."""

    written: list[tuple[str, dict]]
    confusion: np.ndarray | None


def _run_batches(predictor: Predictor | None, batches: list[list[int]]):
    """Each batch's :class:`BatchResult` as it finishes, locally (a data loader) or on the cluster."""
    if not batches:
        return
    config, options = predictor.config, predictor.options
    with tqdm(total=len(batches), desc=f"predict {config.model_name}", unit="batch") as progress:
        if options.scheduler:
            task = ClusterBatch(str(config.config_path), options)
            for result in unordered_map(task, batches, Execution(scheduler=options.scheduler)):
                progress.update()
                yield result
            return
        loader = DataLoader(
            config.test_dataset,
            batch_sampler=batches,
            num_workers=options.num_workers,
            pin_memory=options.device.startswith("cuda"),
        )
        for batch in loader:
            progress.update()
            yield predictor.write(batch)


class Predictor:
    """A config's network with the checkpoint's weights and test-time augmentation, writing label maps."""

    def __init__(self, config: Config, options: PredictOptions):
        self.config, self.options = config, options
        self.spec = get_dataset(config.dataset)
        net = config.net
        load_net_weights(net, options.checkpoint)
        self.device = torch.device(options.device)
        self.model = with_tta(net.to(self.device).eval(), options.tta)

    def write(self, batch: dict) -> BatchResult:
        """Predict one collated batch, write its label maps, and score it when it has labels."""
        ids = list(batch["img_id"])
        images = batch["img"].to(self.device)
        with torch.no_grad():
            logits = self.model(images)
        predictions = logits.argmax(dim=1).cpu().numpy().astype(np.uint8)
        write = write_rgb_png if self.options.rgb else write_label_png
        written = []
        for img_id, labels in zip(ids, predictions):
            target = self.options.label_dir / f"{img_id}.png"
            write(target, labels, self.spec)
            written.append((img_id, file_identity(target)))
        confusion = None
        if "gt_semantic_seg" in batch:
            confusion = confusion_matrix(batch["gt_semantic_seg"].numpy(), predictions, self.config.num_classes)
        return BatchResult(written, confusion)


_PREDICTORS: dict[tuple, Predictor] = {}


@dataclass(frozen=True)
class ClusterBatch:
    """One batch of dataset indices as a cluster task: the worker loads (once) the config and checkpoint, reads
    the images from shared storage, predicts and writes the label maps there."""

    config_path: str
    options: PredictOptions

    def __call__(self, indices: list[int]) -> BatchResult:
        torch.set_num_threads(self.options.threads)
        key = (self.config_path, self.options)
        if key not in _PREDICTORS:
            config = load_config(self.config_path, pretrained=False)
            _PREDICTORS[key] = Predictor(config, self.options)
        predictor = _PREDICTORS[key]
        dataset = predictor.config.test_dataset
        return predictor.write(default_collate([dataset[index] for index in indices]))
