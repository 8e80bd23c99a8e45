"""SAM stage of SESSRS: per-image object masks (COCO-RLE JSON) from SAM, HQ-SAM, Semantic-SAM or a weight-free
region source, resumable, on GPU or CPU, locally or on a Dask cluster.

    from sam_objects import build_object_source
    records = build_object_source("regions")(rgb_uint8_image)  # [{"rles": {...}, "area": int}, ...]
"""

from .registry import (
    SOURCES,
    ObjectSource,
    SourceRecipe,
    build_object_source,
    default_checkpoint_path,
    source_recipe,
)
from .runner import RunSummary, generate_object_jsons

__all__ = [
    "SOURCES",
    "ObjectSource",
    "RunSummary",
    "SourceRecipe",
    "build_object_source",
    "default_checkpoint_path",
    "generate_object_jsons",
    "source_recipe",
]
