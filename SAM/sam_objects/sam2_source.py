"""Object masks from SAM 2.1 through the ``sam2`` package's ``SAM2AutomaticMaskGenerator``.

The model is built by the package's ``build_sam2`` from the SAM 2.1 config shipped inside it, without its
post-processing overrides (as the package's automatic-mask example does); the checkpoint is then loaded here so a
file that does not fit is one error naming it. The package is imported only when this source is chosen.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from rscommon.files import InputError

from .dependencies import MissingDependencyError
from .sam_source import SamObjectSource, load_weights
from .settings import Sam2Settings

INSTALL_HINT = (
    "SAM 2 is not installed: SAM2_BUILD_CUDA=0 pip install 'sam2>=1.1.0' (a source distribution; "
    "the variable skips its optional CUDA extension)"
)

# --model-type -> the SAM 2.1 config inside the package.
CONFIGS = {
    "tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "small": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "large": "configs/sam2.1/sam2.1_hiera_l.yaml",
}


def sam2_module(name: str = "sam2") -> ModuleType:
    """A module of the ``sam2`` package, or :class:`MissingDependencyError` saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise MissingDependencyError(f"{INSTALL_HINT} (import failed: {error})") from error


def has_cuda_extension() -> bool:
    """Whether the package's optional CUDA extension (``sam2._C``, connected components) is built."""
    try:
        sam2_module("sam2._C")
    except MissingDependencyError:
        return False
    return True


def build_sam2_model(model_type: str, checkpoint: Path | None) -> torch.nn.Module:
    """SAM 2.1 of backbone ``model_type`` on the CPU, with the weights of ``checkpoint`` (SAM 2's format: the state
    dict under ``"model"``). ``checkpoint=None`` leaves the weights randomly initialised: tests and benchmarks only.
    """
    if model_type not in CONFIGS:
        raise InputError(f"--model sam2 has no model type {model_type!r}; choose one of {sorted(CONFIGS)}")
    net = sam2_module("sam2.build_sam").build_sam2(CONFIGS[model_type], None, device="cpu", apply_postprocessing=False)
    if checkpoint is not None:
        load_weights(net, Path(checkpoint), f"--model sam2 --model-type {model_type}", key="model")
    return net.eval()


def sam2_object_source(
    model_type: str, checkpoint: Path | None, settings: Sam2Settings, device: torch.device
) -> SamObjectSource:
    """SAM 2.1 with ``SAM2AutomaticMaskGenerator`` at ``settings`` on ``device``; bf16 autocast on CUDA, as the
    package's examples run it. ``checkpoint=None``: random weights (tests, benchmarks)."""
    net = build_sam2_model(model_type, checkpoint).to(device)
    if settings.min_mask_region_area > 0 and not has_cuda_extension():
        raise InputError(
            f"--min-mask-region-area {settings.min_mask_region_area}: SAM 2 removes small regions "
            "with its CUDA extension (sam2._C), which this installation lacks; use 0"
        )
    return SamObjectSource(sam2_generator(net, settings), device, torch.bfloat16)


def sam2_generator(net: torch.nn.Module, settings: Sam2Settings, output_mode: str = "coco_rle") -> Any:
    """The package's ``SAM2AutomaticMaskGenerator`` for ``net`` at ``settings``."""
    generator_class = sam2_module("sam2.automatic_mask_generator").SAM2AutomaticMaskGenerator
    with warnings.catch_warnings():
        # The generator's image transforms call torch.jit.script, deprecated in recent torch: noise about the
        # package's own code, shown to every user otherwise.
        warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
        return generator_class(net, output_mode=output_mode, **asdict(settings))
