"""What input a network takes: its bands, its image sides (a multiple, a minimum, or one exact size) and the
smallest training batch.

Each network of :mod:`geoseg.models` has an ``input_rule`` (found by running the randomly initialised networks
on CPU over a range of sizes); its ``forward`` refuses anything else with a ``ValueError`` saying what is wrong,
and training and prediction check their images and crops against it before the network runs
(:mod:`geoseg.input_checks`), so an input the network cannot take is an error naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class InputRule:
    """The inputs a network takes: ``channels`` bands, sides multiples of ``multiple`` and at least ``minimum``
    (or exactly ``exact``), float values, and in training batches of at least ``min_train_batch`` images (batch
    norm over globally pooled features needs two)."""

    multiple: int = 1
    minimum: int = 1
    exact: int | None = None
    channels: tuple[int, ...] = (3,)
    min_train_batch: int = 1

    def side_problem(self, height: int, width: int) -> str | None:
        """What is wrong with an image of ``height`` x ``width`` pixels for this rule, or ``None``."""
        if self.exact is not None:
            if (height, width) != (self.exact, self.exact):
                return f"takes {self.exact}x{self.exact} images only, not {height}x{width}"
            return None
        if height % self.multiple or width % self.multiple:
            return f"takes sides that are multiples of {self.multiple} px, not {height}x{width}"
        if min(height, width) < self.minimum:
            return f"takes sides of at least {self.minimum} px, not {height}x{width}"
        return None

    def problem(self, x: torch.Tensor) -> str | None:
        """What is wrong with the batch ``x`` (B, C, H, W) for this rule, or ``None``."""
        if x.ndim != 4:
            return f"takes a batch of shape (B, C, H, W), not {tuple(x.shape)}"
        if x.shape[1] not in self.channels:
            return f"takes {' or '.join(map(str, self.channels))} bands, not {x.shape[1]}"
        if not x.is_floating_point():
            return f"takes float values, not {x.dtype}"
        return self.side_problem(*x.shape[-2:])

    def require(self, x: torch.Tensor, model_name: str) -> None:
        """Raise ``ValueError`` naming the problem unless ``x`` is a batch this rule takes."""
        problem = self.problem(x)
        if problem:
            raise ValueError(f"{model_name} {problem}; pad or crop the image first")


def window_minimum(window: int, stride: int = 32) -> int:
    """The smallest side whose feature map at ``stride`` can be reflect-padded to a multiple of ``window`` (the
    padding must be shorter than the map: 5 cells for an 8-cell window, so 160 px at stride 32)."""
    cells = next(cells for cells in range(1, window + 1) if -cells % window < cells)
    return cells * stride


def input_rule_of(net: nn.Module) -> InputRule | None:
    """The rule ``net`` declares (``None`` for a network from elsewhere, which is then not checked)."""
    rule = getattr(net, "input_rule", None)
    return rule if isinstance(rule, InputRule) else None
