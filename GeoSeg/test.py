"""Predict a config's test set: ``python test.py -c config/Urban/unetformer.py [-t d4]``.

Writes ``fig_results/<config folder>/<model>/pre_p/<id>.png`` (P-mode, dataset palette: what SESSRS reads)
or ``pre_rgb/`` with ``--rgb``, and prints mIoU/F1/OA (also saved as ``metrics.json``) when the images have
labels (otherwise it says the metrics were skipped). ``-t d4`` (the reference's default) averages h-flip x 4
scales, ``lr`` h+v flips, ``none`` nothing. The checkpoint is ``--ckpt``, else the best one of the last
training (named in ``<weights_path>/last_training.json``), else ``<weights_path>/<test_weights_name>.ckpt``;
the run says which and why. ``--resume`` keeps label maps made from the same checkpoint, config, TTA and image
(``predictions.json`` records them) and predicts the rest. ``--scheduler tcp://HOST:8786`` runs the batches on
a Dask cluster. Relative command-line paths are taken from the current directory. A failure ends in one
``error:`` line (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys

from geoseg.checkpoint import trained_checkpoint
from geoseg.cli import absolute, find_config, pick_device
from geoseg.config import load_config
from geoseg.inference import TTA_CHOICES
from geoseg.paths import GEOSEG_ROOT
from geoseg.predict import PredictOptions, default_output, predict
from rscommon.cli import run_main
from rscommon.files import json_text


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config_path", required=True, help="config file, e.g. config/Urban/unetformer.py")
    parser.add_argument("-t", "--tta", choices=TTA_CHOICES, help="test-time augmentation (default: the config's)")
    parser.add_argument("--rgb", action="store_true", help="write colour PNGs to pre_rgb/ instead of pre_p/")
    parser.add_argument("-g", "--gpu_index", type=int, help="CUDA device index (CPU when no GPU is present)")
    parser.add_argument(
        "-o", "--output_path", type=absolute, help="output folder (default: GeoSeg/fig_results/<config folder>/<model>)"
    )
    parser.add_argument("--ckpt", type=absolute, help="checkpoint (default: the last training's best, see above)")
    parser.add_argument(
        "--work-dir", type=absolute, default=GEOSEG_ROOT, help="base of the config's relative paths (default: GeoSeg/)"
    )
    parser.add_argument("-b", "--batch-size", type=int, default=2)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument(
        "--resume", action="store_true", help="keep label maps made from the same checkpoint, config, TTA and image"
    )
    parser.add_argument("--scheduler", help="Dask scheduler address (tcp://HOST:PORT): predict on that cluster")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    config_path = find_config(args.config_path)
    config = load_config(config_path, pretrained=False)  # the checkpoint supplies every weight
    if args.ckpt:
        checkpoint, why = args.ckpt, "--ckpt"
    else:
        checkpoint, why = trained_checkpoint(config, args.work_dir)
    print(f"checkpoint {checkpoint} ({why})")
    options = PredictOptions(
        checkpoint=checkpoint,
        output=args.output_path or default_output(config_path),
        tta=args.tta or config.test_time_aug,
        rgb=args.rgb,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        resume=args.resume,
        device=str(pick_device(args.gpu_index)),
        scheduler=args.scheduler,
    )
    scores = predict(config, options)
    if scores is not None:
        print(json_text(scores))


if __name__ == "__main__":
    sys.exit(run_main(main))
