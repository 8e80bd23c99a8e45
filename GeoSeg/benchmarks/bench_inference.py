"""CPU inference time per 1024 x 1024 tile and parameter count of every Urban config's network.

Random weights, eval mode, batch 1, no test-time augmentation: one warm-up run, then one timed run.
``python benchmarks/bench_inference.py [--models unetformer fanet ...] [--threads N] [--size 1024]``
"""
from __future__ import annotations

import argparse
import time

import torch

from geoseg.config import load_config
from geoseg.paths import GEOSEG_ROOT

MODELS = ("abcnet", "dcswin", "fanet", "ftunetformer", "manet", "segformer", "shelfnet", "swinunet", "unetformer")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--dataset", default="Urban", choices=("Urban", "potsdam"))
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--size", type=int, default=1024, help="tile side in pixels")
    return parser.parse_args(argv)


def time_forward(net: torch.nn.Module, x: torch.Tensor) -> float:
    """Seconds of one eval forward pass, after one warm-up pass."""
    with torch.no_grad():
        net(x)
        start = time.perf_counter()
        net(x)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    x = torch.rand(1, 3, args.size, args.size)
    print(f"CPU, {args.threads} thread(s), input 1x3x{args.size}x{args.size}, random weights, eval, no TTA\n")
    print("| model | class | parameters | seconds per tile |\n|---|---|---:|---:|")
    for model in args.models:
        path = GEOSEG_ROOT / "config" / args.dataset / f"{model}.py"
        if not path.is_file():
            continue
        net = load_config(path, pretrained=False).net.eval()  # random weights: no backbone file needed
        params = sum(p.numel() for p in net.parameters())
        seconds = time_forward(net, x)
        print(f"| {model} | {type(net).__name__} | {params:,} | {seconds:.2f} |", flush=True)
        del net


if __name__ == "__main__":
    main()
