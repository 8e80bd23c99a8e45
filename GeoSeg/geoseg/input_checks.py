"""Training's and prediction's preconditions on what the network will be given, checked against the network's
:class:`~geoseg.models.input_size.InputRule` before it runs: each refusal is one
:class:`~rscommon.files.InputError` line naming the file (image or config) and what is wrong.

Anything the network raises after these checks passed is a bug, not bad input, and is left to propagate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import nn

from rscommon.files import InputError
from rscommon.image_header import read_header
from rscommon.limits import max_image_pixels

from .models.input_size import InputRule, input_rule_of


def check_batch(net: nn.Module, x: torch.Tensor, where: str) -> None:
    """Refuse a batch ``x`` the network cannot take; ``where`` says what made it (a config and its crop size)."""
    rule = input_rule_of(net)
    problem = rule and rule.problem(x)
    if problem:
        shape = "x".join(map(str, x.shape))
        raise InputError(f"{type(net).__name__} cannot take a {shape} batch ({where}): {problem}")


def check_training(net: nn.Module, config_path: Path, crop_size: int | None, batch_size: int | None) -> None:
    """Refuse a config whose training crops or batches the network cannot take, naming the config."""
    rule = input_rule_of(net)
    if rule is None:
        return
    name = type(net).__name__
    problem = crop_size is not None and rule.side_problem(crop_size, crop_size)
    if problem:
        raise InputError(f"config {config_path}: crop_size {crop_size}: {name} {problem}")
    if batch_size is not None and batch_size < rule.min_train_batch:
        raise InputError(
            f"config {config_path}: train_batch_size {batch_size}: {name} trains on batches of at least "
            f"{rule.min_train_batch} images"
        )


def scaled_problem(rule: InputRule, height: int, width: int, scale: float, name: str = "the network") -> str | None:
    """What is wrong with an image of ``height`` x ``width`` resized by the test-time ``scale`` (as ttach resizes
    it, and its label map back) for the network called ``name``, or ``None``."""
    scaled = tuple(int(side * scale) for side in (height, width))
    problem = rule.side_problem(*scaled)
    if problem:
        return f"{name} {problem}"
    back = tuple(int(side / scale) for side in scaled)
    if back != (height, width):
        return f"its label map comes back {back[0]}x{back[1]} and would not align"
    return None


def check_images(net: nn.Module, images: Iterable[Path], scales: Sequence[float] = (1.0,)) -> None:
    """Refuse the first image (read from its header) whose sides, at each test-time scale, the network cannot
    take, or which the scale does not map back to its own size (the averaged label maps would not align)."""
    rule = input_rule_of(net)
    if rule is None:
        return
    limit = max_image_pixels(None)
    for path in images:
        header = read_header(path, limit)
        for scale in scales:
            problem = scaled_problem(rule, header.height, header.width, scale, type(net).__name__)
            if problem:
                where = f"{path}: {header.height}x{header.width} image"
                if scale != 1:
                    where += f" scaled by {scale} (test-time augmentation)"
                raise InputError(f"{where}: {problem}")


def padded_side(rule: InputRule, side: int, scales: Sequence[float] = (1.0,)) -> int:
    """The smallest side of at least ``side`` pixels the rule takes at every test-time scale (pad an image to it);
    one line naming the largest side when none is near (an image larger than a network of one exact size)."""
    if rule.exact is not None:
        candidates = [rule.exact] if side <= rule.exact else []
    else:
        first = max(side, rule.minimum)
        candidates = range(first, first + 8 * rule.multiple + 1)  # d4's scales need a multiple of 4 x multiple
    for candidate in candidates:
        if all(scaled_problem(rule, candidate, candidate, scale) is None for scale in scales):
            return candidate
    largest = f" (at most {rule.exact} px)" if rule.exact else ""
    raise InputError(f"no side of {side} px or a little more fits the network at scales {list(scales)}{largest}")
