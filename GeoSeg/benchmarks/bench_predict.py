"""Prediction wall time on the embedded LoveDA tiles: local, then on a Dask cluster of local worker processes.

A randomly initialised UNetFormer (the sample config, no backbone file needed) is saved as a checkpoint and
``geoseg.predict.predict`` runs on the three 1024 x 1024 tiles, batch 1, no test-time augmentation; the cluster
run must give byte-identical label maps.
``python benchmarks/bench_predict.py [--workers 2]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from geoseg.config import load_config
from geoseg.paths import GEOSEG_ROOT
from geoseg.predict import PredictOptions, predict

CONFIG = GEOSEG_ROOT / "config" / "sample" / "unetformer.py"


def timed_predict(checkpoint: Path, output: Path, scheduler: str | None) -> float:
    options = PredictOptions(
        checkpoint=checkpoint, output=output, tta="none", batch_size=1, num_workers=0, scheduler=scheduler
    )
    start = time.perf_counter()
    predict(load_config(CONFIG), options)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="cluster worker processes")
    args = parser.parse_args()
    from dask.distributed import LocalCluster

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        torch.manual_seed(0)
        net = load_config(CONFIG).net
        torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}}, work / "random.ckpt")
        local = timed_predict(work / "random.ckpt", work / "local", None)
        with LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster:
            remote = timed_predict(work / "random.ckpt", work / "cluster", cluster.scheduler_address)
        same = all(
            a.read_bytes() == (work / "cluster" / "pre_p" / a.name).read_bytes()
            for a in (work / "local" / "pre_p").glob("*.png")
        )
    print(f"\n3 tiles 1024 x 1024, UNetFormer, CPU, {torch.get_num_threads()} torch threads per prediction")
    print(
        f"| run | seconds |\n|---|---:|\n| local | {local:.1f} |\n| Dask, {args.workers} worker processes "
        f"(includes worker start-up and model loading) | {remote:.1f} |"
    )
    print(f"label maps identical: {same}")


if __name__ == "__main__":
    main()
