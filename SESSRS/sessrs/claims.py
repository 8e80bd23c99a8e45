"""Which refined classes claim each pixel: one bit per class, in as many 64-bit words per pixel as the classes
need, so that any class a label map can hold (0..254) can be refined. One word serves up to 64 classes.

Claims are ``(pixels, words)`` uint64 arrays. Counting needs no popcount (``np.bitwise_count`` is NumPy 2 only):
a pixel is claimed by several classes when one word has two bits (``x & (x - 1)``) or two words are non-zero.
"""

from __future__ import annotations

import numpy as np

_ONE = np.uint64(1)


class ClaimSets:
    """Operations on the claims of ``num_classes`` classes."""

    def __init__(self, num_classes: int) -> None:
        self.words = max(1, -(-num_classes // 64))

    def empty(self, count: int) -> np.ndarray:
        """Claims of ``count`` pixels that no class claims."""
        return np.zeros((count, self.words), np.uint64)

    @staticmethod
    def _bit(cls: int) -> tuple[int, np.uint64]:
        return cls // 64, _ONE << np.uint64(cls % 64)

    def has(self, claims: np.ndarray, cls: int) -> np.ndarray:
        """Which pixels ``cls`` claims."""
        word, bit = self._bit(cls)
        return (claims[:, word] & bit) != 0

    def add(self, claims: np.ndarray, cls: int, where: np.ndarray) -> None:
        """``cls`` claims the pixels ``where`` (a boolean mask of every pixel, or indices) too."""
        word, bit = self._bit(cls)
        if where.dtype == bool:  # shifting the whole mask in is much faster than a masked update
            claims[:, word] |= where.astype(np.uint64) << np.uint64(cls % 64)
        else:
            claims[where, word] |= bit

    def remove(self, claims: np.ndarray, cls: int, where: np.ndarray | slice = slice(None)) -> None:
        """``cls`` no longer claims the pixels ``where`` (all by default)."""
        word, bit = self._bit(cls)
        claims[where, word] &= ~bit

    def unclaimed(self, claims: np.ndarray) -> np.ndarray:
        """Which pixels no class claims."""
        return claims[:, 0] == 0 if self.words == 1 else ~claims.any(axis=1)

    def several(self, claims: np.ndarray) -> np.ndarray:
        """Which pixels two or more classes claim."""
        if self.words == 1:
            word = claims[:, 0]
            return (word & (word - _ONE)) != 0
        return ((claims != 0).sum(axis=1) > 1) | ((claims & (claims - _ONE)) != 0).any(axis=1)

    def others(self, claims: np.ndarray, cls: int) -> np.ndarray:
        """Which pixels a class other than ``cls`` claims."""
        if self.words == 1:
            return (claims[:, 0] & ~self._bit(cls)[1]) != 0
        rest = claims.copy()
        self.remove(rest, cls)
        return rest.any(axis=1)
