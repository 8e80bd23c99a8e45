"""Settings of each object source (the reference's defaults per model are in :mod:`sam_objects.registry`).

Every field carries its command-line help and type in ``metadata`` so the CLI can offer each one as an option.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rscommon.files import InputError


def _setting(default: Any, help: str, type: Callable[[str], Any], **argparse_extra: Any) -> Any:
    return field(default=default, metadata={"help": help, "type": type, **argparse_extra})


def _flag(text: str) -> bool:
    """A yes/no option value: true/false, yes/no, on/off or 1/0."""
    value = text.strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


@dataclass(frozen=True)
class MaskGeneratorSettings:
    """Arguments of the automatic mask generator of SAM and HQ-SAM (same names as the packages use)."""

    points_per_side: int = _setting(32, "point prompts per image side", int)
    points_per_batch: int = _setting(200, "point prompts run through the model at once", int)
    pred_iou_thresh: float = _setting(0.95, "keep masks whose predicted IoU is above this", float)
    stability_score_thresh: float = _setting(0.95, "keep masks whose stability score is at least this", float)
    stability_score_offset: float = _setting(1.0, "logit offset used for the stability score", float)
    box_nms_thresh: float = _setting(0.6, "box IoU above which duplicate masks are suppressed", float)
    crop_n_layers: int = _setting(1, "layers of image crops to run again (0 = whole image only)", int)
    crop_nms_thresh: float = _setting(0.7, "box IoU for suppressing duplicates between crops", float)
    crop_overlap_ratio: float = _setting(512 / 1500, "overlap of neighbouring crops, as a fraction", float)
    crop_n_points_downscale_factor: int = _setting(2, "points per side shrink by this factor per crop layer", int)
    min_mask_region_area: int = _setting(500, "remove holes and islands smaller than this many pixels", int)


@dataclass(frozen=True)
class SemanticSamSettings(MaskGeneratorSettings):
    """Semantic-SAM's generator arguments; it runs one pass per granularity level and keeps all masks."""

    crop_n_layers: int = _setting(0, "must be 0: Semantic-SAM's generator handles the whole image only", int)
    crop_n_points_downscale_factor: int = _setting(1, "points per side shrink by this factor per crop layer", int)
    levels: tuple[int, ...] = _setting(
        (3, 4, 5, 6), "Semantic-SAM granularity levels (1-6), one pass each", int, nargs="+"
    )

    def __post_init__(self) -> None:
        if self.crop_n_layers != 0:
            raise InputError("--model ssam supports only --crop-n-layers 0 (its generator handles one crop)")
        if not self.levels or any(level not in range(1, 7) for level in self.levels):
            raise InputError(f"--levels must be granularity levels 1..6, got {list(self.levels)}")
        object.__setattr__(self, "levels", tuple(self.levels))


@dataclass(frozen=True)
class Sam2Settings(MaskGeneratorSettings):
    """Arguments of SAM 2's ``SAM2AutomaticMaskGenerator``: those of SAM plus its own three.

    The registry holds them at the generator's own defaults (the reference predates SAM 2)."""

    mask_threshold: float = _setting(0.0, "sam2: mask logit above which a pixel belongs to the mask", float)
    use_m2m: bool = _setting(False, "sam2: refine each mask once with its own low-resolution mask (true/false)", _flag)
    multimask_output: bool = _setting(True, "sam2: three masks per point prompt (true/false)", _flag)


@dataclass(frozen=True)
class RegionSettings:
    """The weight-free source: scikit-image superpixel regions (not SAM)."""

    method: str = _setting(
        "felzenszwalb", "region algorithm of the weight-free source", str, choices=("felzenszwalb", "slic")
    )
    scale: float = _setting(100.0, "felzenszwalb: larger gives larger regions", float)
    sigma: float = _setting(0.8, "felzenszwalb: Gaussian smoothing before segmenting", float)
    n_segments: int = _setting(300, "slic: approximate number of regions", int)
    compactness: float = _setting(10.0, "slic: colour versus space weight", float)
    max_side: int = _setting(512, "regions are computed with the longest image side shrunk to this", int)
    min_mask_region_area: int = _setting(500, "drop regions smaller than this many pixels", int)


Settings = MaskGeneratorSettings | SemanticSamSettings | Sam2Settings | RegionSettings
