"""Outputs loaded with the style the scene command stores with them: a ``.qml`` beside the class raster, or the
default style stored in the GeoPackage of the polygons."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
)


def style_files(source: str) -> list[Path]:
    """The style files that may sit beside a layer's file: ``NAME.qml`` and ``NAME.EXT.qml``."""
    path = Path(source.split("|")[0])
    return [path.with_suffix(".qml"), Path(f"{path}.qml")]


class StyleLoader(QgsProcessingLayerPostProcessorInterface):
    """Applies the output's own style once QGIS has loaded it (a style file beside it first, then the default style
    its data source stores, as a GeoPackage's ``layer_styles``)."""

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext, feedback: QgsProcessingFeedback):
        for path in style_files(layer.source()):
            if path.is_file():
                message, loaded = layer.loadNamedStyle(str(path))
                if loaded:
                    feedback.pushInfo(f"{layer.name()}: style {path}")
                    layer.triggerRepaint()
                    return
        message, loaded = layer.loadDefaultStyle()
        if loaded:
            feedback.pushInfo(f"{layer.name()}: its stored default style")
            layer.triggerRepaint()


_LOADER = StyleLoader()  # one for the session: QGIS keeps no reference to a post-processor


def load_styled(context: QgsProcessingContext, output: str) -> None:
    """Have ``output`` styled when QGIS loads it at the end of the run (nothing when it is not to be loaded)."""
    if context.willLoadLayerOnCompletion(output):
        context.layerToLoadOnCompletionDetails(output).setPostProcessor(_LOADER)
