"""The tune command's output folder: the names of the files and folders it holds. No other module spells them; the
sweep and the choice inside it are the SESSRS stage's own folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sessrs.folders import ChoiceFolder, SweepFolder


@dataclass(frozen=True)
class TuneFolder:
    """What a tuning writes into ``root``: ``best.json`` (the chosen thresholds, for the scene command),
    ``tune.json`` (the record of what the choice was made from, for resuming), ``areas/`` (the labelled areas cut
    into images), ``sweep/`` (a :class:`~sessrs.folders.SweepFolder`) and ``choice/`` (a
    :class:`~sessrs.folders.ChoiceFolder`: the areas refined and their figures)."""

    root: Path

    @property
    def best(self) -> Path:
        """The chosen thresholds, named as a choice folder names them."""
        return ChoiceFolder(self.root).best

    @property
    def record(self) -> Path:
        return self.root / "tune.json"

    @property
    def areas(self) -> Path:
        return self.root / "areas"

    @property
    def sweep(self) -> SweepFolder:
        return SweepFolder(self.root / "sweep")

    @property
    def choice(self) -> ChoiceFolder:
        return ChoiceFolder(self.root / "choice")
