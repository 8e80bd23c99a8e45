"""The plugin QGIS loads: it adds the SESSRS provider to Processing and removes it on unload."""

from __future__ import annotations

from qgis.core import QgsApplication

from .provider import SessrsProvider


class SessrsPlugin:
    def __init__(self, iface=None) -> None:
        self.iface = iface
        self.provider: SessrsProvider | None = None

    def initProcessing(self) -> None:
        """Register the provider (QGIS calls this also for qgis_process, without a GUI)."""
        self.provider = SessrsProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
