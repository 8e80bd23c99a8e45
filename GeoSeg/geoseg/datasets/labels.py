"""Label-code conventions: raw dataset codes to GeoSeg's training indices."""

from __future__ import annotations

import numpy as np

from rscommon.files import InputError

LOVEDA_RAW_MAX = 7
ISPRS_MMSEG_MAX = 6


def loveda_to_geoseg(raw: np.ndarray) -> np.ndarray:
    """LoveDA raw codes (0 no-data, 1..7 classes) to GeoSeg's 0..6 classes and 7 = ``other`` (no-data)."""
    raw = np.asarray(raw)
    if raw.size and int(raw.max()) > LOVEDA_RAW_MAX:
        raise InputError(f"LoveDA raw codes are 0..{LOVEDA_RAW_MAX}, found {int(raw.max())}")
    return ((raw.astype(np.int16) - 1) % 8).astype(np.uint8)


def isprs_mmseg_to_geoseg(codes: np.ndarray, ignore_index: int = 6) -> np.ndarray:
    """ISPRS labels as mmsegmentation stores them (0 boundary, 1..6 classes) to 0..5 and ``ignore_index``."""
    codes = np.asarray(codes)
    if codes.size and int(codes.max()) > ISPRS_MMSEG_MAX:
        raise InputError(f"ISPRS mmseg codes are 0..{ISPRS_MMSEG_MAX}, found {int(codes.max())}")
    return np.where(codes == 0, ignore_index, codes.astype(np.int16) - 1).astype(np.uint8)
