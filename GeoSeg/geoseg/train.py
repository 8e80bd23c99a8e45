"""Train a config with pytorch-lightning, reproducibly, and record which checkpoint the training produced.

Per epoch, train/val mIoU, F1 and OA go to ``lightning_logs/<log_name>/version_N/metrics.csv``; the best
checkpoint by the config's ``monitor`` goes to ``<weights_path>/<weights_name>.ckpt`` (Lightning appends
``-v1``, ``-v2``, ... when an earlier training left that name), and :data:`TRAINING_RECORD` beside it names the
checkpoint this training wrote, which prediction then loads.

Same seed, same figures: everything is seeded (``seed_everything(workers=True)``, the augmentations through
the datasets, the loader workers) and Lightning's deterministic mode is on, so two runs with the same seed on
the same machine give identical weights and metrics. On a GPU, kernels without a deterministic CUDA version
(e.g. bilinear upsampling's backward) only warn; exact GPU repeats are as far as PyTorch allows.
"""

from __future__ import annotations

import datetime
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from rscommon.datasets import get_dataset
from rscommon.files import write_json_atomic
from rscommon.paths import resolve_path

from .checkpoint import TRAINING_RECORD, load_net_weights, weights_dir
from .config import Config, load_config
from .input_checks import check_training
from .paths import GEOSEG_ROOT
from .training import SupervisedSegmentation


@dataclass
class TrainOptions:
    """How to run a training; the config says what to train. Paths are absolute or relative to ``work_dir``."""

    work_dir: Path = GEOSEG_ROOT
    resume: Path | None = None
    max_epochs: int | None = None
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None
    sanity_val_steps: int = 2
    num_workers: int | None = None
    devices: str | int | list[int] = 1
    strategy: str = "auto"
    seed: int = 42


def batch_limit(value: float | None) -> int | float | None:
    """Lightning reads an int as a batch count and a float as a fraction of the epoch."""
    if value is None:
        return None
    return int(value) if value >= 1 and float(value).is_integer() else value


def parse_devices(value: str) -> str | int | list[int]:
    """``auto``, a device count, or a comma-separated list of GPU ids."""
    if value == "auto":
        return value
    if "," in value:
        return [int(v) for v in value.split(",") if v]
    return int(value)


def build_trainer(config: Config, options: TrainOptions) -> pl.Trainer:
    """Checkpointing and early stopping on ``config.monitor``, CSV logging, CPU or GPU, deterministic."""
    checkpoint = ModelCheckpoint(
        dirpath=weights_dir(config, options.work_dir),
        filename=config.weights_name,
        monitor=config.monitor,
        mode=config.monitor_mode,
        save_top_k=config.save_top_k,
        save_last=config.save_last,
    )
    early_stopping = EarlyStopping(
        monitor=config.monitor, mode=config.monitor_mode, patience=config.early_stopping_patience, verbose=True
    )
    logger = CSVLogger(resolve_path("lightning_logs", options.work_dir), name=config.log_name)
    limits = {
        key: limit
        for key, limit in (
            ("limit_train_batches", batch_limit(options.limit_train_batches)),
            ("limit_val_batches", batch_limit(options.limit_val_batches)),
        )
        if limit is not None
    }
    return pl.Trainer(
        accelerator="auto",
        devices=options.devices,
        strategy=options.strategy,
        max_epochs=options.max_epochs if options.max_epochs is not None else config.max_epoch,
        check_val_every_n_epoch=config.check_val_every_n_epoch,
        callbacks=[checkpoint, early_stopping],
        logger=logger,
        num_sanity_val_steps=options.sanity_val_steps,
        log_every_n_steps=1,
        deterministic="warn" if torch.cuda.is_available() else True,
        **limits,
    )


def train(config_path: str | Path, options: TrainOptions) -> dict:
    """Seed everything, load the config (so its network starts from seeded weights), train it, and write
    :data:`TRAINING_RECORD` beside its checkpoints; returns that record."""
    pl.seed_everything(options.seed, workers=True, verbose=False)
    config = load_config(config_path)
    module = SupervisedSegmentation(config, get_dataset(config.dataset))
    check_training(
        module.net, config.config_path, getattr(config, "crop_size", None), getattr(config, "train_batch_size", None)
    )
    if config.pretrained_ckpt_path:
        load_net_weights(module.net, resolve_path(config.pretrained_ckpt_path, options.work_dir))
    resume = options.resume or (config.resume_ckpt_path and resolve_path(config.resume_ckpt_path, options.work_dir))
    if resume and not Path(resume).is_file():
        raise FileNotFoundError(f"checkpoint to resume from {resume} not found")
    train_loader = config.train_loader.build(options.num_workers)
    val_loader = config.val_loader.build(options.num_workers)
    trainer = build_trainer(config, options)
    folder = weights_dir(config, options.work_dir)
    if not resume and folder.is_dir() and any(folder.glob("*.ckpt")):
        print(
            f"{folder} already holds checkpoints: Lightning adds -v1, -v2, ... to this training's file names, "
            f"and {TRAINING_RECORD} will name the one this training wrote"
        )
    with warnings.catch_warnings():
        # Said above in our words; the record, not the file name, tells prediction which checkpoint is new.
        warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
        trainer.fit(
            module,
            train_dataloaders=train_loader,
            val_dataloaders=val_loader,
            ckpt_path=str(resume) if resume else None,
        )
    record = training_record(config, options, trainer)
    write_json_atomic(folder / TRAINING_RECORD, record)
    return {**record, "record": str(folder / TRAINING_RECORD)}


def training_record(config: Config, options: TrainOptions, trainer: pl.Trainer) -> dict:
    """What a finished training produced: its best (and last) checkpoint file names, score, seed and logs."""
    callback = trainer.checkpoint_callback
    best = Path(callback.best_model_path).name if callback.best_model_path else None
    last = Path(callback.last_model_path).name if callback.last_model_path else None
    score = callback.best_model_score
    return {
        "best_checkpoint": best,
        "last_checkpoint": last,
        "monitor": config.monitor,
        "best_score": None if score is None else float(score),
        "config": str(config.config_path),
        "seed": options.seed,
        "epochs": trainer.current_epoch,
        "metrics": str(Path(trainer.logger.log_dir) / "metrics.csv"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
