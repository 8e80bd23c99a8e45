"""Inference seconds per 1024 x 1024 tile and parameter count of every Urban config's network, with the device
and dtype they ran at.

Random weights, eval mode, batch 1, no test-time augmentation: one warm-up run, then one timed run.
``python benchmarks/bench_inference.py [--models unetformer fanet ...] [--threads N] [--size 1024]
[--device cuda --autocast bf16]``
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from geoseg.config import load_config
from geoseg.paths import GEOSEG_ROOT

AUTOCAST = {"none": None, "fp16": torch.float16, "bf16": torch.bfloat16}
MODELS = ("abcnet", "dcswin", "fanet", "ftunetformer", "manet", "segformer", "shelfnet", "swinunet", "unetformer")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--dataset", default="Urban", choices=("Urban", "potsdam"))
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--size", type=int, default=1024, help="tile side in pixels")
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="torch device (default: cuda if available, else cpu)",
    )
    parser.add_argument(
        "--autocast", choices=sorted(AUTOCAST), default="none", help="CUDA autocast dtype (default none: float32)"
    )
    args = parser.parse_args(argv)
    if args.autocast != "none" and torch.device(args.device).type != "cuda":
        parser.error("--autocast is for CUDA devices")
    return args


def time_forward(net: torch.nn.Module, x: torch.Tensor, dtype: torch.dtype | None) -> float:
    """Seconds of one eval forward pass (under CUDA autocast to ``dtype`` unless None), after one warm-up pass."""
    autocast = contextlib.nullcontext() if dtype is None else torch.autocast(x.device.type, dtype=dtype)
    with torch.no_grad(), autocast:
        net(x)
        _synchronise(x.device)
        start = time.perf_counter()
        net(x)
        _synchronise(x.device)
        return time.perf_counter() - start


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    x = torch.rand(1, 3, args.size, args.size, device=args.device)
    dtype = AUTOCAST[args.autocast]
    dtype_text = "float32" if dtype is None else f"autocast {str(dtype).removeprefix('torch.')}"
    print(
        f"torch {torch.__version__}, {args.threads} CPU thread(s), input 1x3x{args.size}x{args.size}, random "
        "weights, eval, no TTA\n"
    )
    print("| model | class | parameters | device | dtype | seconds per tile |\n|---|---|---:|---|---|---:|")
    for model in args.models:
        path = GEOSEG_ROOT / "config" / args.dataset / f"{model}.py"
        if not path.is_file():
            continue
        net = load_config(path, pretrained=False).net.eval().to(args.device)  # random weights: no backbone file
        params = sum(p.numel() for p in net.parameters())
        seconds = time_forward(net, x, dtype)
        print(
            f"| {model} | {type(net).__name__} | {params:,} | {x.device} | {dtype_text} | {seconds:.2f} |", flush=True
        )
        del net


if __name__ == "__main__":
    main()
