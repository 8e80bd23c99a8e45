"""Predict a config's test set with its best checkpoint: ``python test.py -c config/Urban/unetformer.py``.

Writes ``fig_results/<config folder>/<model>/pre_p/<id>.png`` (P-mode, dataset palette: what SESSRS reads)
or ``pre_rgb/`` with ``--rgb``, and prints mIoU/F1/OA (also saved as ``metrics.json``) when the images have
labels. ``-t d4`` (the reference's default) averages h-flip x 4 scales, ``lr`` h+v flips, ``none`` nothing.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from geoseg.checkpoint import load_net_weights
from geoseg.cli import find_config, pick_device
from geoseg.config import load_config
from geoseg.inference import TTA_CHOICES, with_tta
from geoseg.paths import GEOSEG_ROOT
from rscommon.datasets import get_dataset
from rscommon.files import write_json_atomic
from rscommon.labels import read_label_png, write_label_png, write_rgb_png
from rscommon.metrics import compute_scores, confusion_matrix
from rscommon.paths import resolve_path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config_path", required=True, help="config file, e.g. config/Urban/unetformer.py")
    parser.add_argument("-t", "--tta", choices=TTA_CHOICES, help="test-time augmentation (default: the config's)")
    parser.add_argument("--rgb", action="store_true", help="write colour PNGs to pre_rgb/ instead of pre_p/")
    parser.add_argument("-g", "--gpu_index", type=int, help="CUDA device index (CPU when no GPU is present)")
    parser.add_argument("-o", "--output_path", type=Path,
                        help="output folder (default: GeoSeg/fig_results/<config folder>/<model>)")
    parser.add_argument("--ckpt", type=Path, help="checkpoint (default: <weights_path>/<test_weights_name>.ckpt)")
    parser.add_argument("--work-dir", type=Path, default=GEOSEG_ROOT,
                        help="base of the config's relative paths (default: GeoSeg/)")
    parser.add_argument("-b", "--batch-size", type=int, default=2)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--resume", action="store_true",
                        help="keep label maps already written (they are read back for the metrics)")
    return parser.parse_args(argv)


def default_output(config_path: Path) -> Path:
    """``GeoSeg/fig_results/<config folder>/<config name>``, the layout SESSRS reads."""
    return GEOSEG_ROOT / "fig_results" / config_path.parent.name / config_path.stem


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config_path = find_config(args.config_path)
    config = load_config(config_path)
    spec = get_dataset(config.dataset)
    ckpt = args.ckpt or resolve_path(Path(config.weights_path) / f"{config.test_weights_name}.ckpt", args.work_dir)
    output = args.output_path or default_output(config_path)
    label_dir = output / ("pre_rgb" if args.rgb else "pre_p")

    device = pick_device(args.gpu_index)
    net = config.net
    load_net_weights(net, ckpt)
    label_dir.mkdir(parents=True, exist_ok=True)
    model = with_tta(net.to(device).eval(), args.tta or config.test_time_aug)
    dataset = config.test_dataset
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=False, num_workers=args.num_workers,
                        pin_memory=device.type == "cuda")
    confusion = np.zeros((config.num_classes, config.num_classes), dtype=np.int64)
    has_labels = getattr(dataset, "has_masks", True)
    print(f"{len(dataset)} image(s), checkpoint {ckpt}, device {device}, output {label_dir}")
    with torch.no_grad():
        for batch in tqdm(loader, desc=f"predict {config.model_name}", unit="batch"):
            ids = batch["img_id"]
            targets = [label_dir / f"{img_id}.png" for img_id in ids]
            if args.resume and not args.rgb and all(t.is_file() for t in targets):
                predictions = np.stack([read_label_png(t) for t in targets])
            else:
                predictions = model(batch["img"].to(device)).argmax(dim=1).cpu().numpy().astype(np.uint8)
                for target, labels in zip(targets, predictions):
                    (write_rgb_png if args.rgb else write_label_png)(target, labels, spec)
            if has_labels:
                confusion += confusion_matrix(batch["gt_semantic_seg"].numpy(), predictions, config.num_classes)
    if has_labels:
        scores = compute_scores(confusion, spec.scored).as_dict(spec.classes)
        write_json_atomic(output / "metrics.json", scores)
        print(json.dumps(scores, indent=1))


if __name__ == "__main__":
    main()
