"""Helpers shared by the GeoSeg scripts: paths given on the command line, config files, the device."""

from __future__ import annotations

from pathlib import Path

import torch

from rscommon.files import InputError

from .paths import GEOSEG_ROOT


def absolute(path: str) -> Path:
    """A command-line path, relative ones taken from the current directory (``~`` expanded)."""
    return Path(path).expanduser().absolute()


def find_config(path: str | Path) -> Path:
    """``path`` as given (from the current directory) when it exists, else relative to ``GeoSeg/``.

    Both ``python GeoSeg/train_supervision.py -c GeoSeg/config/...`` and the reference's
    ``cd GeoSeg; python train_supervision.py -c config/...`` work, as does ``-c config/...`` from anywhere.
    """
    path = Path(path).expanduser()
    if path.is_file():
        return path.resolve()
    beside_geoseg = GEOSEG_ROOT / path
    if not path.is_absolute() and beside_geoseg.is_file():
        return beside_geoseg
    raise FileNotFoundError(f"config file {path} not found (also looked in {GEOSEG_ROOT})")


def pick_device(gpu_index: int | None) -> torch.device:
    """CUDA device ``gpu_index`` (default the current one) when CUDA is available, else the CPU."""
    if not torch.cuda.is_available():
        return torch.device("cpu")
    if gpu_index is None:
        return torch.device("cuda")
    if not 0 <= gpu_index < torch.cuda.device_count():
        raise InputError(f"GPU index {gpu_index} out of range: {torch.cuda.device_count()} CUDA device(s)")
    return torch.device("cuda", gpu_index)
