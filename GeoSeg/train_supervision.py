"""Train a GeoSeg config with pytorch-lightning: ``python train_supervision.py -c config/Urban/unetformer.py``.

Per epoch, train/val mIoU, F1 and OA go to ``lightning_logs/<log_name>/version_N/metrics.csv``; the best
checkpoint by the config's ``monitor`` goes to ``<weights_path>/<weights_name>.ckpt`` (``-v1``, ``-v2``, ...
when an earlier training left that name) and ``<weights_path>/last_training.json`` names it for ``test.py``.
Runs on the GPU when there is one, else on the CPU; the same ``--seed`` gives the same weights and figures.
Relative paths on the command line are taken from the current directory; those in the config from ``GeoSeg/``
(or ``--work-dir``). A failure ends in one ``error:`` line (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys

from geoseg.cli import absolute, find_config
from geoseg.paths import GEOSEG_ROOT
from geoseg.train import TrainOptions, parse_devices, train
from rscommon.cli import run_main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config_path", required=True, help="config file, e.g. config/Urban/unetformer.py")
    parser.add_argument(
        "--resume", type=absolute, help="checkpoint to resume training from (default: the config's resume_ckpt_path)"
    )
    parser.add_argument("--max-epochs", type=int, help="override the config's max_epoch")
    parser.add_argument("--limit-train-batches", type=float, help="batches per training epoch (int) or fraction")
    parser.add_argument("--limit-val-batches", type=float, help="batches per validation (int) or fraction")
    parser.add_argument(
        "--work-dir",
        type=absolute,
        default=GEOSEG_ROOT,
        help="base of the config's relative output paths (default: GeoSeg/)",
    )
    parser.add_argument(
        "--sanity-val-steps", type=int, default=2, help="validation batches run before training as a check (0 skips it)"
    )
    parser.add_argument("--num-workers", type=int, help="data loader workers (default: the config's, at most 4)")
    parser.add_argument(
        "--devices",
        default="1",
        type=parse_devices,
        help="lightning devices: a count, GPU ids like 0,1, or auto (all); default one device",
    )
    parser.add_argument("-s", "--strategy", default="auto", help="lightning strategy (e.g. ddp)")
    parser.add_argument("--seed", type=int, default=42, help="seed of weights, augmentation and loader order")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    config_path = find_config(args.config_path)
    options = TrainOptions(
        work_dir=args.work_dir,
        resume=args.resume,
        max_epochs=args.max_epochs,
        limit_train_batches=args.limit_train_batches,
        limit_val_batches=args.limit_val_batches,
        sanity_val_steps=args.sanity_val_steps,
        num_workers=args.num_workers,
        devices=args.devices,
        strategy=args.strategy,
        seed=args.seed,
    )
    record = train(config_path, options)
    print(
        f"best checkpoint: {record['best_checkpoint'] or 'none (no validation ran)'} (recorded in {record['record']})"
    )
    print(f"metrics: {record['metrics']}")


if __name__ == "__main__":
    sys.exit(run_main(main))
