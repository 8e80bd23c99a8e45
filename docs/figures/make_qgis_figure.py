"""Draw the scene command's outputs as QGIS shows them, for docs/scenes.md: QGIS's own rendering (headless) of the
class raster with its default style (the ``.qml`` beside it) and of the GeoPackage layer with its default style
(from ``layer_styles``), side by side on a checkerboard (so that transparency shows), with the legend QGIS builds.

Run with QGIS's Python (Debian's python3-qgis), on the outputs of ``pipeline/benchmarks/scene_picture.py``:

    python pipeline/benchmarks/scene_picture.py --keep /tmp/example
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 docs/figures/make_qgis_figure.py /tmp/example/out.tif \\
        /tmp/example/out.gpkg --out docs/scenes_qgis.png
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

PANEL = 384  # pixels of each rendered map
LEGEND = 170  # pixels of the legend column
CHECKER = 16


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raster", type=Path, help="the class raster (OUT.tif, with OUT.qml beside it)")
    parser.add_argument("vector", type=Path, help="the GeoPackage of polygons")
    parser.add_argument("--layer", default="classes", help="the polygons' layer (default classes)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "scenes_qgis.png", help="the PNG")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # QGIS is imported only here, so that --help works with any Python
    from qgis.core import QgsApplication, QgsMapRendererSequentialJob, QgsMapSettings, QgsRasterLayer, QgsVectorLayer
    from qgis.PyQt.QtCore import QRect, QSize, Qt
    from qgis.PyQt.QtGui import QColor, QFont, QImage, QPainter

    application = QgsApplication([], False)
    application.initQgis()
    raster = QgsRasterLayer(str(args.raster), "classes")
    vector = QgsVectorLayer(f"{args.vector}|layername={args.layer}", args.layer, "ogr")
    if not (raster.isValid() and vector.isValid()):
        raise SystemExit(f"error: QGIS cannot load {args.raster} or layer {args.layer} of {args.vector}")

    def render(layer) -> QImage:
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(raster.crs())
        settings.setExtent(raster.extent())
        settings.setOutputSize(QSize(PANEL, PANEL))
        settings.setBackgroundColor(Qt.transparent)
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        return job.renderedImage()

    figure = QImage(2 * PANEL + LEGEND + 30, PANEL + 40, QImage.Format_ARGB32)
    figure.fill(QColor("white"))
    painter = QPainter(figure)
    painter.setFont(QFont("DejaVu Sans", 10))
    for column, (layer, title) in enumerate(
        [(raster, "out.tif (style: out.qml)"), (vector, f"out.gpkg, layer {args.layer} (style: layer_styles)")]
    ):
        left = 10 + column * (PANEL + 10)
        for y in range(0, PANEL, CHECKER):  # a checkerboard under the map: transparent pixels show it
            for x in range(0, PANEL, CHECKER):
                shade = 235 if (x // CHECKER + y // CHECKER) % 2 else 205
                painter.fillRect(left + x, 30 + y, CHECKER, CHECKER, QColor(shade, shade, shade))
        painter.drawImage(left, 30, render(layer))
        painter.setPen(QColor("black"))
        painter.drawText(QRect(left, 5, PANEL, 20), Qt.AlignLeft, title)
    left = 2 * PANEL + 30
    painter.drawText(QRect(left, 5, LEGEND, 20), Qt.AlignLeft, "QGIS legend")
    for row, (label, colour) in enumerate(raster.renderer().legendSymbologyItems()):
        painter.fillRect(left, 34 + 24 * row, 16, 16, colour)
        painter.setPen(QColor("black"))
        painter.drawRect(left, 34 + 24 * row, 16, 16)
        painter.drawText(QRect(left + 24, 32 + 24 * row, LEGEND - 24, 20), Qt.AlignLeft, label)
    painter.end()
    figure.save(str(args.out))
    print(f"{args.out}: {raster.renderer().type()} raster, {vector.renderer().type()} polygons")
    os._exit(0)  # QGIS 3.22's exitQgis() can crash on the way out, after the work is done


if __name__ == "__main__":
    main()
