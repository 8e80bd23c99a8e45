"""Train a GeoSeg config with pytorch-lightning: ``python train_supervision.py -c config/Urban/unetformer.py``.

Per epoch, train/val mIoU, F1 and OA go to ``lightning_logs/<log_name>/version_N/metrics.csv``; the best
checkpoint by the config's ``monitor`` goes to ``<weights_path>/<weights_name>.ckpt``. Runs on the GPU
when there is one, else on the CPU. Relative paths in the config are taken from ``GeoSeg/`` (or ``--work-dir``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from geoseg.checkpoint import load_net_weights
from geoseg.cli import find_config
from geoseg.config import Config, load_config
from geoseg.paths import GEOSEG_ROOT
from geoseg.training import SupervisedSegmentation
from rscommon.datasets import get_dataset
from rscommon.paths import resolve_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config_path", required=True, help="config file, e.g. config/Urban/unetformer.py")
    parser.add_argument("--resume", help="checkpoint to resume training from (default: the config's resume_ckpt_path)")
    parser.add_argument("--max-epochs", type=int, help="override the config's max_epoch")
    parser.add_argument("--limit-train-batches", type=float, help="batches per training epoch (int) or fraction")
    parser.add_argument("--limit-val-batches", type=float, help="batches per validation (int) or fraction")
    parser.add_argument("--work-dir", type=Path, default=GEOSEG_ROOT,
                        help="base of the config's relative output paths (default: GeoSeg/)")
    parser.add_argument("--sanity-val-steps", type=int, default=2,
                        help="validation batches run before training as a check (0 skips it)")
    parser.add_argument("--num-workers", type=int, help="data loader workers (default: the config's, at most 4)")
    parser.add_argument("--devices", default="1",
                        help="lightning devices: a count, GPU ids like 0,1, or auto (all); default one device")
    parser.add_argument("-s", "--strategy", default="auto", help="lightning strategy (e.g. ddp)")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


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


def build_trainer(config: Config, args: argparse.Namespace) -> pl.Trainer:
    """Checkpointing and early stopping on ``config.monitor``, CSV logging, CPU or GPU automatically."""
    checkpoint = ModelCheckpoint(
        dirpath=resolve_path(config.weights_path, args.work_dir),
        filename=config.weights_name,
        monitor=config.monitor,
        mode=config.monitor_mode,
        save_top_k=config.save_top_k,
        save_last=config.save_last,
    )
    early_stopping = EarlyStopping(
        monitor=config.monitor, mode=config.monitor_mode, patience=config.early_stopping_patience, verbose=True
    )
    logger = CSVLogger(resolve_path("lightning_logs", args.work_dir), name=config.log_name)
    limits = {
        key: limit
        for key, limit in (("limit_train_batches", batch_limit(args.limit_train_batches)),
                           ("limit_val_batches", batch_limit(args.limit_val_batches)))
        if limit is not None
    }
    return pl.Trainer(
        accelerator="auto",
        devices=parse_devices(args.devices),
        strategy=args.strategy,
        max_epochs=args.max_epochs if args.max_epochs is not None else config.max_epoch,
        check_val_every_n_epoch=config.check_val_every_n_epoch,
        callbacks=[checkpoint, early_stopping],
        logger=logger,
        num_sanity_val_steps=args.sanity_val_steps,
        log_every_n_steps=1,
        **limits,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    pl.seed_everything(args.seed, workers=True)
    config = load_config(find_config(args.config_path))
    module = SupervisedSegmentation(config, get_dataset(config.dataset))
    if config.pretrained_ckpt_path:
        load_net_weights(module.net, resolve_path(config.pretrained_ckpt_path, args.work_dir))
    resume = args.resume or (config.resume_ckpt_path and resolve_path(config.resume_ckpt_path, args.work_dir))
    trainer = build_trainer(config, args)
    trainer.fit(
        module,
        train_dataloaders=config.train_loader.build(args.num_workers),
        val_dataloaders=config.val_loader.build(args.num_workers),
        ckpt_path=str(resume) if resume else None,
    )
    best = trainer.checkpoint_callback.best_model_path
    print(f"best checkpoint: {best or 'none (no validation ran)'}")
    print(f"metrics: {Path(trainer.logger.log_dir) / 'metrics.csv'}")


if __name__ == "__main__":
    main()
