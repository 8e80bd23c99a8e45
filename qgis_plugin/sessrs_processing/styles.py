"""Outputs loaded with the style the scene command stores with them: a ``.qml`` beside the class raster, and the
default style stored in the polygons' GeoPackage (its ``layer_styles`` table)."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsVectorLayer,
)


def style_files(source: str) -> list[Path]:
    """The style files that may sit beside a raster's file: ``NAME.EXT.qml``, then ``NAME.qml``."""
    path = Path(source.split("|")[0])
    return [Path(f"{path}.qml"), path.with_suffix(".qml")]


class StyleLoader(QgsProcessingLayerPostProcessorInterface):
    """Applies an output's own style once QGIS has loaded it: for polygons the style their data source stores (a
    GeoPackage's default style; a ``.qml`` beside them is the class raster's, which has the same name), for the
    class raster the style file beside it."""

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback):
        if isinstance(layer, QgsVectorLayer):
            if layer.listStylesInDatabase()[0] == 0:
                return
            (_, loaded), where = layer.loadDefaultStyle(), "the style stored with it"
        else:
            path = next((path for path in style_files(layer.source()) if path.is_file()), None)
            if path is None:
                return
            (_, loaded), where = layer.loadNamedStyle(str(path)), str(path)
        if loaded:
            feedback.pushInfo(f"{layer.name()}: styled with {where}")
            layer.triggerRepaint()


# QGIS takes ownership of each post-processor (one per output) but not of its Python side, which must stay
# referenced until QGIS has used it: the latest one of each output is kept here.
_LOADERS: dict[str, StyleLoader] = {}


def load_styled(context: QgsProcessingContext, output: str) -> None:
    """Have ``output`` styled when QGIS loads it at the end of the run (nothing when it is not to be loaded)."""
    if context.willLoadLayerOnCompletion(output):
        _LOADERS[output] = StyleLoader()
        context.layerToLoadOnCompletionDetails(output).setPostProcessor(_LOADERS[output])
