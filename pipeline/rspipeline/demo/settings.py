"""What the demo runs: its settings, one object shared by every step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sessrs.thresholds import APPLY_MAX_OBJECTS


@dataclass
class DemoSettings:
    """What to run. The defaults are the full demo; tests shrink the tiles and the training."""

    out: Path
    sets: tuple[str, ...] = ("loveda", "isprs")
    tiles: int | None = None
    crop: int | None = None
    crops_per_tile: int = 1
    train_epochs: int | None = None
    train_batches: int | None = None
    val_batches: int | None = None
    objects: str = "auto"
    workers: int = 2
    pick_mode: str = "0.7"
    max_objects: int = APPLY_MAX_OBJECTS
    verbose: bool = False
