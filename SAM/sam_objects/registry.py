"""Every object source in one table: its settings and their reference defaults, its builder, its checkpoints and
the label shown to people. Build one by name with :func:`build_object_source`.

    source = build_object_source("samhq", model_type="vit_tiny", device="cpu")
    records = source(rgb_uint8_image)   # [{"rles": {"size": [H, W], "counts": str}, "area": int}, ...]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from rscommon.files import InputError
from rscommon.paths import weights_dir
from rscommon.provenance import file_identity

from .checkpoints import CheckpointInfo, check_loadable, published, require_file
from .settings import MaskGeneratorSettings, RegionSettings, Sam2Settings, SemanticSamSettings, Settings

Generate = Callable[[np.ndarray], list[dict]]


@dataclass(frozen=True)
class SourceRecipe:
    """Everything an object source is made from; a worker process rebuilds the same source from it.

    ``checkpoint=None`` for a source that needs weights means randomly initialised ones (plumbing tests and
    benchmarks only); :func:`build_object_source` always fills in a file.
    """

    name: str
    settings: Settings
    model_type: str | None = None
    checkpoint: Path | None = None
    device: str | None = None

    @property
    def spec(self) -> SourceSpec:
        return source_spec(self.name)

    def identity(self) -> dict[str, Any]:
        """What the objects depend on: ``settings`` (source, package version, model type and every generator
        setting) and ``checkpoint`` (the file's size and SHA-256, about 1 s per GB; None without weights).

        The device is not part of it: a run resumed on another device keeps the objects already made.
        """
        settings = {
            "source": self.name,
            "package": self.spec.package_version(),
            "model_type": self.model_type,
            **asdict(self.settings),
        }
        return {"settings": settings, "checkpoint": None if self.checkpoint is None else file_identity(self.checkpoint)}

    def check(self) -> None:
        """Raise the error building would raise for a missing checkpoint, or for one that is not a PyTorch file,
        without building anything."""
        if self.checkpoint is not None:
            info = self.spec.checkpoint(self.model_type)
            check_loadable(require_file(self.checkpoint, info, _wanted_by(self)), info, _wanted_by(self))


class ObjectSource:
    """A built object source: ``source(image)`` gives the object records of one H x W x 3 uint8 RGB image.

    Records have the size of the image and are non-empty. Pickling sends only the recipe: a worker process
    builds the source once and reuses it for every later task.
    """

    def __init__(self, recipe: SourceRecipe, generate: Generate) -> None:
        self.recipe = recipe
        self._generate = generate

    def __call__(self, image: np.ndarray) -> list[dict]:
        """The non-empty object records of ``image``, each checked to have its size."""
        size = list(image.shape[:2])
        records = []
        for record in self._generate(image):
            if record["rles"]["size"] != size:
                raise ValueError(
                    f"object source {self.recipe.name} returned a {record['rles']['size']} mask for a {size} image"
                )
            if record["area"] > 0:
                records.append(record)
        return records

    def __reduce__(self) -> tuple[Callable[[SourceRecipe], ObjectSource], tuple[SourceRecipe]]:
        if self.recipe.checkpoint is None and self.recipe.spec.checkpoints:
            raise ValueError(
                "a source with randomly initialised weights cannot be rebuilt in another process; "
                "save its state dict and pass it as the checkpoint"
            )
        return rebuilt_source, (self.recipe,)


def build_source(recipe: SourceRecipe) -> ObjectSource:
    """The source ``recipe`` describes (a missing checkpoint or package is an error here)."""
    return ObjectSource(recipe, recipe.spec.build(recipe))


@functools.lru_cache(maxsize=2)
def rebuilt_source(recipe: SourceRecipe) -> ObjectSource:
    """The source ``recipe`` describes, built once per (worker) process and reused for its later tasks."""
    return build_source(recipe)


@dataclass(frozen=True)
class SourceSpec:
    """One object source: what people read, its reference settings, its builder and its published weights."""

    name: str
    label: str
    settings: Settings
    build: Callable[[SourceRecipe], Generate] = field(repr=False)
    distribution: str
    checkpoints: Mapping[str, CheckpointInfo] = field(default_factory=dict)
    default_model_type: str | None = None

    def settings_with(self, **overrides: Any) -> Settings:
        """The reference settings with ``overrides``; a name this source does not use is an error."""
        unknown = sorted(set(overrides) - set(self.settings.__dataclass_fields__))
        if unknown:
            options = ", ".join("--" + name.replace("_", "-") for name in unknown)
            raise InputError(f"{options} not used by --model {self.name}")
        return replace(self.settings, **overrides)

    def checkpoint(self, model_type: str) -> CheckpointInfo:
        """The published checkpoint of backbone ``model_type``."""
        if model_type not in self.checkpoints:
            choices = sorted(self.checkpoints) or "none: it uses no weights"
            raise InputError(f"--model {self.name} has no model type {model_type!r}; choose one of {choices}")
        return self.checkpoints[model_type]

    def package_version(self) -> str:
        """``<distribution> <version>`` of the package that makes the objects (``not installed`` if absent)."""
        try:
            return f"{self.distribution} {metadata.version(self.distribution)}"
        except metadata.PackageNotFoundError:
            return f"{self.distribution} not installed"


def _build_sam(recipe: SourceRecipe) -> Generate:
    from .device import resolve_device
    from .sam_source import sam_object_source

    return sam_object_source(
        recipe.name, recipe.model_type, _checkpoint_or_random(recipe), recipe.settings, resolve_device(recipe.device)
    )


def _build_sam2(recipe: SourceRecipe) -> Generate:
    from .device import resolve_device
    from .sam2_source import sam2_module, sam2_object_source

    sam2_module()  # first: without the package, the install step is the useful message
    return sam2_object_source(
        recipe.model_type, _checkpoint_or_random(recipe), recipe.settings, resolve_device(recipe.device)
    )


def _checkpoint_or_random(recipe: SourceRecipe) -> Path | None:
    """The recipe's checkpoint, which must exist; None (random weights) when the recipe has none."""
    if recipe.checkpoint is None:
        return None
    return require_file(recipe.checkpoint, recipe.spec.checkpoint(recipe.model_type), _wanted_by(recipe))


def _build_semantic_sam(recipe: SourceRecipe) -> Generate:
    from .device import resolve_device
    from .semantic_sam_source import SemanticSamObjectSource, build_semantic_sam_model, import_semantic_sam

    import_semantic_sam()  # first: without the package, the install steps are the useful message
    checkpoint = require_file(
        recipe.checkpoint or default_checkpoint_path(recipe.name, recipe.model_type),
        recipe.spec.checkpoint(recipe.model_type),
        _wanted_by(recipe),
    )
    device = resolve_device(recipe.device)
    return SemanticSamObjectSource(
        build_semantic_sam_model(recipe.model_type, checkpoint, device), recipe.settings, device
    )


def _build_regions(recipe: SourceRecipe) -> Generate:
    from .regions_source import RegionObjectSource

    return RegionObjectSource(recipe.settings)


def _wanted_by(recipe: SourceRecipe) -> str:
    return f"--model {recipe.name} --model-type {recipe.model_type}"


_SAM_URL = "https://dl.fbaipublicfiles.com/segment_anything/"
_HQ_URL = "https://huggingface.co/lkeab/hq-sam/resolve/main/"
_SSAM_URL = "https://github.com/UX-Decoder/Semantic-SAM/releases/download/checkpoint/"
_SAM2_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"


def _table(model_types: tuple[str, ...], infos: tuple[CheckpointInfo, ...]) -> dict[str, CheckpointInfo]:
    return dict(zip(model_types, infos, strict=True))


SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec(
            "sam",
            "SAM (segment_anything)",
            MaskGeneratorSettings(),
            _build_sam,
            "segment-anything",
            _table(
                ("vit_h", "vit_l", "vit_b"),
                published(_SAM_URL, "sam_vit_h_4b8939.pth", "sam_vit_l_0b3195.pth", "sam_vit_b_01ec64.pth"),
            ),
            "vit_h",
        ),
        SourceSpec(
            "samhq",
            "HQ-SAM (segment_anything_hq)",
            MaskGeneratorSettings(pred_iou_thresh=0.85, stability_score_thresh=0.85),
            _build_sam,
            "segment-anything-hq",
            _table(
                ("vit_h", "vit_l", "vit_b", "vit_tiny"),
                published(_HQ_URL, "sam_hq_vit_h.pth", "sam_hq_vit_l.pth", "sam_hq_vit_b.pth", "sam_hq_vit_tiny.pth"),
            ),
            "vit_h",
        ),
        SourceSpec(
            "ssam",
            "Semantic-SAM (semantic_sam)",
            SemanticSamSettings(),
            _build_semantic_sam,
            "semantic-sam",
            _table(
                ("swinl", "swint"), published(_SSAM_URL, "swinl_only_sam_many2many.pth", "swint_only_sam_many2many.pth")
            ),
            "swinl",
        ),
        SourceSpec(
            "sam2",
            "SAM 2.1 (sam2)",
            Sam2Settings(
                points_per_batch=64,
                pred_iou_thresh=0.8,
                box_nms_thresh=0.7,
                crop_n_layers=0,
                crop_n_points_downscale_factor=1,
                min_mask_region_area=0,
            ),
            _build_sam2,
            "sam2",
            _table(
                ("tiny", "small", "base_plus", "large"),
                published(
                    _SAM2_URL,
                    "sam2.1_hiera_tiny.pt",
                    "sam2.1_hiera_small.pt",
                    "sam2.1_hiera_base_plus.pt",
                    "sam2.1_hiera_large.pt",
                ),
            ),
            "large",
        ),
        SourceSpec(
            "regions", "weight-free scikit-image regions (NOT SAM)", RegionSettings(), _build_regions, "scikit-image"
        ),
    )
}

# Views of SOURCES kept for callers that predate it.
SOURCE_NAMES: dict[str, str] = {name: spec.label for name, spec in SOURCES.items()}
DEFAULT_MODEL_TYPE: dict[str, str] = {
    name: spec.default_model_type for name, spec in SOURCES.items() if spec.default_model_type
}


def source_spec(name: str) -> SourceSpec:
    """The registry entry of source ``name``."""
    if name not in SOURCES:
        raise InputError(f"unknown object source {name!r}; choose one of {sorted(SOURCES)}")
    return SOURCES[name]


def settings_for(name: str, **overrides: Any) -> Settings:
    """The reference's settings of source ``name`` with ``overrides`` applied; unknown names are an error."""
    return source_spec(name).settings_with(**overrides)


def default_checkpoint_path(name: str, model_type: str) -> Path:
    """The standard file name of the checkpoint in the weights folder (``$SESSRS_WEIGHTS`` or ``weights/``)."""
    return weights_dir() / source_spec(name).checkpoint(model_type).file_name


def require_checkpoint(path: str | Path, name: str, model_type: str) -> Path:
    """``path`` if it is a file, else :class:`~sam_objects.checkpoints.MissingCheckpointError` naming the file
    and where the checkpoint of source ``name`` with backbone ``model_type`` is published."""
    return require_file(path, source_spec(name).checkpoint(model_type), f"--model {name} --model-type {model_type}")


def source_recipe(
    name: str,
    model_type: str | None = None,
    checkpoint: str | Path | None = None,
    device: str | None = None,
    **settings: Any,
) -> SourceRecipe:
    """The recipe of source ``name``: reference settings with ``settings`` applied, the backbone (default: the
    source's default) and the checkpoint (default: its standard name in the weights folder)."""
    spec = source_spec(name)
    chosen = spec.settings_with(**settings)
    if not spec.checkpoints:
        if model_type is not None or checkpoint is not None:
            raise InputError(f"--model {name} uses no weights: drop --checkpoint and --model-type")
        return SourceRecipe(name, chosen, device=device)
    model_type = model_type or spec.default_model_type
    spec.checkpoint(model_type)  # an unknown backbone is an error here
    checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint_path(name, model_type)
    return SourceRecipe(name, chosen, model_type, checkpoint, device)


def build_object_source(
    name: str,
    model_type: str | None = None,
    checkpoint: str | Path | None = None,
    device: str | None = None,
    **settings: Any,
) -> ObjectSource:
    """Build object source ``name`` (``sam``, ``samhq``, ``ssam``, ``sam2`` or ``regions``); see
    :func:`source_recipe`.

    A missing checkpoint names the file and where it is published; a checkpoint that does not fit the model type
    is one error naming the file.
    """
    return build_source(source_recipe(name, model_type, checkpoint, device, **settings))
