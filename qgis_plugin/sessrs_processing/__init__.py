"""SESSRS Processing: refine a scene, tune its thresholds from polygons, or apply a published preset, from QGIS's
Processing toolbox. The algorithms run the project's own commands in the project's environment; see docs/qgis.md."""


def classFactory(iface):  # noqa: N802 (the name QGIS calls)
    """The plugin (QGIS's entry point); QGIS is imported only here, so the plain modules import without it."""
    from .plugin import SessrsPlugin

    return SessrsPlugin(iface)
