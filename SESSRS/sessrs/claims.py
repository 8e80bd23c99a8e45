"""Which refined classes claim each pixel: one bit per class, in as many words per pixel as the classes need, so
that any class a label map can hold (0..254) can be refined.

Claims are ``(pixels, words)`` arrays of the narrowest unsigned integer holding every class (uint8 for up to 8
classes, as LoveDA's 7 and Potsdam's 6, then 16 and 32 bits), or of as many 64-bit words as more classes need:
narrow words keep a painting small in memory and on disk. Counting needs no popcount (``np.bitwise_count`` is
NumPy 2 only): a pixel is claimed by several classes when one word has two bits (``x & (x - 1)``) or two words are
non-zero.
"""

from __future__ import annotations

import numpy as np

WORD_TYPES = (np.uint8, np.uint16, np.uint32, np.uint64)


class ClaimSets:
    """Operations on the claims of ``num_classes`` classes."""

    def __init__(self, num_classes: int) -> None:
        self.dtype = next((t for t in WORD_TYPES if np.iinfo(t).bits >= num_classes), np.uint64)
        self.bits = np.iinfo(self.dtype).bits
        self.words = max(1, -(-num_classes // self.bits))
        self._one = self.dtype(1)

    def empty(self, count: int) -> np.ndarray:
        """Claims of ``count`` pixels that no class claims."""
        return np.zeros((count, self.words), self.dtype)

    def _bit(self, cls: int) -> tuple[int, np.unsignedinteger]:
        return cls // self.bits, self._one << self.dtype(cls % self.bits)

    def has(self, claims: np.ndarray, cls: int) -> np.ndarray:
        """Which pixels ``cls`` claims."""
        word, bit = self._bit(cls)
        return (claims[:, word] & bit) != 0

    def add(self, claims: np.ndarray, cls: int, where: np.ndarray) -> None:
        """``cls`` claims the pixels ``where`` (a boolean mask of every pixel, or indices) too."""
        word, bit = self._bit(cls)
        if where.dtype == bool:  # shifting the whole mask in is much faster than a masked update
            claims[:, word] |= where.astype(self.dtype) << self.dtype(cls % self.bits)
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
            return (word & (word - self._one)) != 0
        return ((claims != 0).sum(axis=1) > 1) | ((claims & (claims - self._one)) != 0).any(axis=1)

    def others(self, claims: np.ndarray, cls: int) -> np.ndarray:
        """Which pixels a class other than ``cls`` claims."""
        if self.words == 1:
            return (claims[:, 0] & ~self._bit(cls)[1]) != 0
        rest = claims.copy()
        self.remove(rest, cls)
        return rest.any(axis=1)
