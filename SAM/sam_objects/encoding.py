"""One object mask as the JSON record the SESSRS stage reads (COCO compressed RLE via pycocotools)."""
from __future__ import annotations

import numpy as np
import pycocotools.mask as mask_utils


def encode_object(mask: np.ndarray) -> dict:
    """``{"rles": {"size": [H, W], "counts": str}, "area": int}`` for a boolean H x W mask."""
    if mask.ndim != 2:
        raise ValueError(f"an object mask must be H x W, got shape {mask.shape}")
    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    height, width = (int(v) for v in rle["size"])
    return {"rles": {"size": [height, width], "counts": rle["counts"].decode("ascii")},
            "area": int(mask_utils.area(rle))}


def decode_objects(records: list[dict], shape: tuple[int, int]) -> np.ndarray:
    """H x W x N uint8 masks of the records (N may be 0)."""
    if not records:
        return np.zeros((*shape, 0), dtype=np.uint8)
    rles = [{"size": r["rles"]["size"], "counts": r["rles"]["counts"].encode("ascii")} for r in records]
    return mask_utils.decode(rles)
