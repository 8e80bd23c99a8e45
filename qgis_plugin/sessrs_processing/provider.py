"""The SESSRS Processing provider: its three algorithms and its two settings."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider

from .refine import ApplyPreset, RefineScene
from .settings import add_settings, remove_settings
from .tune import TuneThresholds


class SessrsProvider(QgsProcessingProvider):
    def id(self) -> str:
        return "sessrs"

    def name(self) -> str:
        return "SESSRS"

    def longName(self) -> str:
        return "SESSRS: SAM-enhanced refinement of segmentation maps"

    def load(self) -> bool:
        add_settings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        remove_settings()

    def loadAlgorithms(self) -> None:
        for algorithm in (RefineScene(), ApplyPreset(), TuneThresholds()):
            self.addAlgorithm(algorithm)
