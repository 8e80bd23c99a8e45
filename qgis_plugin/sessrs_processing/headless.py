"""QGIS without its desktop, with Processing and this provider loaded: for the scripts and tests that run the
algorithms from QGIS's own Python (e.g. under ``QT_QPA_PLATFORM=offscreen``)."""

from __future__ import annotations

import sys
from pathlib import Path

from qgis.core import QgsApplication


def start_headless(gui: bool = False) -> tuple[QgsApplication, object]:
    """Start QGIS (``gui``: with widgets, for dialogs), initialise Processing and register this provider; returns
    the application and the plugin, to be kept alive while they are used."""
    application = QgsApplication([], gui)
    application.initQgis()
    sys.path.append(str(Path(QgsApplication.pkgDataPath()) / "python" / "plugins"))  # Processing's own plugin
    from processing.core.Processing import Processing

    Processing.initialize()
    from . import classFactory

    plugin = classFactory(None)
    plugin.initProcessing()
    return application, plugin
