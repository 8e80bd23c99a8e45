"""What QGIS makes of the scene outputs: run with QGIS's own Python (Debian's python3-qgis), headless,
``QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_probe.py OUT.tif OUT.gpkg LAYER``; prints one JSON object.

Not a test module: tests/rspipeline/test_scene_qgis.py runs it in a subprocess, as the project's Python cannot
import QGIS. The layers are loaded as the QGIS application loads them (their default styles: ``OUT.qml`` beside
the raster, the GeoPackage's ``layer_styles``).
"""

import json
import os
import sys

from qgis.core import QgsApplication, QgsMapRendererSequentialJob, QgsMapSettings, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtCore import QSize, Qt

STEP = 4  # pixels between the sampled pixels of the rendered raster


def raster_facts(path: str) -> dict:
    layer = QgsRasterLayer(path, "classes")
    renderer, provider = layer.renderer(), layer.dataProvider()
    paletted = renderer.type() == "paletted"
    return {
        "valid": layer.isValid(),
        "renderer": renderer.type(),
        "palette": [[int(c.value), c.label, c.color.name(), c.color.alpha()] for c in renderer.classes()]
        if paletted
        else None,
        "legend": [label for label, _ in renderer.legendSymbologyItems()],
        "nodata": provider.sourceNoDataValue(1) if provider.sourceHasNoDataValue(1) else None,
        "nodata_used": provider.useSourceNoDataValue(1),
        "crs": layer.crs().authid(),
        "rendered_alpha": rendered_alpha(layer),
    }


def rendered_alpha(layer: QgsRasterLayer) -> list[list[int]]:
    """The raster rendered by QGIS at its own size on a transparent background: the alpha of every STEP-th pixel
    (rows of columns)."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(layer.width(), layer.height()))
    settings.setBackgroundColor(Qt.transparent)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    return [
        [image.pixelColor(x, y).alpha() for x in range(0, image.width(), STEP)] for y in range(0, image.height(), STEP)
    ]


def vector_facts(path: str, layer_name: str) -> dict:
    layer = QgsVectorLayer(f"{path}|layername={layer_name}", layer_name, "ogr")
    renderer = layer.renderer()
    categorized = renderer.type() == "categorizedSymbol"
    features = list(layer.getFeatures())
    return {
        "valid": layer.isValid(),
        "renderer": renderer.type(),
        "attribute": renderer.classAttribute() if categorized else None,
        "categories": [[str(c.value()), c.label(), c.symbol().color().name()] for c in renderer.categories()]
        if categorized
        else None,
        "features": len(features),
        "invalid_geometries": sum(not f.geometry().isGeosValid() for f in features),
        "fields": [field.name() for field in layer.fields()],
        "crs": layer.crs().authid(),
    }


if __name__ == "__main__":
    application = QgsApplication([], False)
    application.initQgis()
    print(json.dumps({"raster": raster_facts(sys.argv[1]), "vector": vector_facts(sys.argv[2], sys.argv[3])}))
    sys.stdout.flush()
    os._exit(0)  # QGIS 3.22's exitQgis() can crash on the way out, after the work is done
