"""Make the pictures of docs/qgis.md headless, with QGIS's own Python and the plugin in qgis_plugin/:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 docs/figures/make_qgis_screenshots.py  # docs/figures/qgis/*.png
    QT_QPA_PLATFORM=offscreen /usr/bin/python3 docs/figures/make_qgis_screenshots.py --out DIR

The embedded Potsdam tile becomes a georeferenced scene (``scene.tif``, EPSG:32633, 5 cm pixels) with a blocky
stand-in prediction (``pred.tif``: its labels coarsened 8 times); polygons of its labels in two areas are drawn on
a scratch layer, as a user draws them. The loop of docs/qgis.md then runs through ``processing.run``: *Tune
thresholds from polygons* on the scratch layer, *Refine scene* with the ``best.json`` it wrote. The pictures: the
two algorithm dialogs filled in (``QWidget.grab``) and the map of the prediction and the refined classes with the
labelled polygons (a QGIS map render). The commands run in SESSRS's environment: ``$SESSRS_PYTHON``, else the
repository's ``.venv``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POTSDAM_TILE = ROOT / "data" / "real_samples" / "potsdam" / "top_potsdam_2_10_crop0_0_512_512_"
ORIGIN, PIXEL, CRS = (500000.0, 5800000.0), 0.05, "EPSG:32633"
AREAS = [
    (16, 16, 176, 200),
    (300, 280, 496, 496),
    (24, 300, 200, 496),
    (290, 16, 496, 230),
]  # top, left, bottom, right: the labelled areas, in pixels
TILE, OVERLAP, CONTEXT = 256, 32, 24


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "qgis", help="where the PNGs go")
    return parser.parse_args()


def write_geotiff(path: Path, bands, geotransform: tuple) -> Path:
    """A GeoTIFF of C x H x W ``bands`` on the scene's grid."""
    from osgeo import gdal, osr

    gdal.UseExceptions()
    count, height, width = bands.shape
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), width, height, count, gdal.GDT_Byte)
    dataset.SetGeoTransform(geotransform)
    reference = osr.SpatialReference()
    reference.SetFromUserInput(CRS)
    dataset.SetProjection(reference.ExportToWkt())
    for index in range(count):
        dataset.GetRasterBand(index + 1).WriteArray(bands[index])
    dataset.FlushCache()
    return path


def make_scene(folder: Path) -> tuple[Path, Path, object]:
    """scene.tif, pred.tif and the label map in GeoSeg's Potsdam classes (boundary as clutter)."""
    import numpy as np
    from osgeo import gdal

    geotransform = (ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL)
    rgb = gdal.Open(f"{POTSDAM_TILE}RGB.png").ReadAsArray()[:3]
    labels = gdal.Open(f"{POTSDAM_TILE}label_mmseg.png").ReadAsArray()
    classes = np.where(labels == 0, 5, labels - 1).astype(np.uint8)
    coarse = np.repeat(np.repeat(classes[4::8, 4::8], 8, 0), 8, 1)[: classes.shape[0], : classes.shape[1]]
    return (
        write_geotiff(folder / "scene.tif", rgb, geotransform),
        write_geotiff(folder / "pred.tif", coarse[None], geotransform),
        classes,
    )


def labelled_areas(classes):
    """A scratch polygon layer (not a file) with the labels of the areas: one polygon per region, field ``class``."""
    from osgeo import gdal, ogr, osr
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    layer = QgsVectorLayer(f"Polygon?crs={CRS}&field=class:string", "labelled areas", "memory")
    reference = osr.SpatialReference()
    reference.SetFromUserInput(CRS)
    features = []
    for top, left, bottom, right in AREAS:
        window = gdal.GetDriverByName("MEM").Create("", right - left, bottom - top, 1, gdal.GDT_Byte)
        window.SetGeoTransform((ORIGIN[0] + left * PIXEL, PIXEL, 0.0, ORIGIN[1] - top * PIXEL, 0.0, -PIXEL))
        window.GetRasterBand(1).WriteArray(classes[top:bottom, left:right])
        source = ogr.GetDriverByName("Memory").CreateDataSource("")  # kept: its layer lives only as long
        polygons = source.CreateLayer("p", reference, ogr.wkbPolygon)
        polygons.CreateField(ogr.FieldDefn("class", ogr.OFTInteger))
        gdal.Polygonize(window.GetRasterBand(1), None, polygons, 0)
        for polygon in polygons:
            feature = QgsFeature(layer.fields())
            feature.setGeometry(QgsGeometry.fromWkt(polygon.GetGeometryRef().ExportToWkt()))
            feature.setAttribute("class", str(polygon.GetField("class")))
            features.append(feature)
    layer.dataProvider().addFeatures(features)
    layer.renderer().symbol().symbolLayer(0).setBrushStyle(0)  # outlines only (Qt.NoBrush)
    layer.renderer().symbol().symbolLayer(0).setStrokeColor(_colour("#ffff00"))
    layer.renderer().symbol().symbolLayer(0).setStrokeWidth(0.6)
    return layer


def _colour(name: str):
    from qgis.PyQt.QtGui import QColor

    return QColor(name)


def grab_dialog(algorithm_id: str, parameters: dict, path: Path) -> None:
    """The algorithm's dialog, filled in with ``parameters``, as a PNG."""
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from qgis.core import QgsApplication

    dialog = AlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById(algorithm_id))
    dialog.setParameters(parameters)
    dialog.resize(980, 760)
    dialog.show()
    QgsApplication.processEvents()
    dialog.grab().save(str(path))
    dialog.close()


def render(layers: list, path: Path, titles: list[str]) -> None:
    """Maps of the scene side by side, one per ``layers`` list (top layer first), each with its title."""
    from qgis.core import QgsMapRendererSequentialJob, QgsMapSettings
    from qgis.PyQt.QtCore import QRect, QSize, Qt
    from qgis.PyQt.QtGui import QFont, QImage, QPainter

    side, band = 512, 36
    picture = QImage(side * len(layers), side + band, QImage.Format_ARGB32)
    picture.fill(Qt.white)
    painter = QPainter(picture)
    painter.setFont(QFont("DejaVu Sans", 14))
    for index, (stack, title) in enumerate(zip(layers, titles)):
        settings = QgsMapSettings()
        settings.setLayers(stack)
        settings.setDestinationCrs(stack[-1].crs())
        settings.setExtent(stack[-1].extent())
        settings.setOutputSize(QSize(side, side))
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        painter.drawImage(index * side, band, job.renderedImage())
        painter.drawText(QRect(index * side, 0, side, band), Qt.AlignCenter, title)
    painter.end()
    picture.save(str(path))


def main() -> int:
    args = parse_args()
    sys.path.insert(0, str(ROOT / "qgis_plugin"))
    from qgis.core import QgsApplication, QgsPalettedRasterRenderer, QgsProject, QgsRasterLayer
    from sessrs_processing.headless import start_headless

    application, plugin = start_headless(gui=True)
    import processing

    work = Path(tempfile.mkdtemp(prefix="qgis_screenshots_"))
    scene_path, pred_path, classes = make_scene(work)
    scene = QgsRasterLayer(str(scene_path), "scene")
    pred = QgsRasterLayer(str(pred_path), "prediction")
    areas = labelled_areas(classes)
    QgsProject.instance().addMapLayers([scene, pred, areas])

    def choice(algorithm_id: str, name: str, value: str) -> int:
        algorithm = QgsApplication.processingRegistry().algorithmById(algorithm_id)
        return algorithm.parameterDefinition(name).options().index(value)

    inputs = {"IMAGE": scene, "PRED": pred, "OBJECTS": choice("sessrs:refinescene", "OBJECTS", "regions")}
    inputs["DATASET"] = choice("sessrs:refinescene", "DATASET", "potsdam")
    tune = {**inputs, "LABELS": areas, "CLASS_FIELD": "class", "CONTEXT": CONTEXT, "OUTPUT": str(work / "tuned")}
    tuned = processing.run("sessrs:tunethresholds", tune)
    print(f"tuned: mIoU of the labelled areas {tuned['MIOU_BEFORE']:.2f} -> {tuned['MIOU_AFTER']:.2f}")
    refine = {**inputs, "THRESHOLDS": tuned["BEST"], "TILE": TILE, "OVERLAP": OVERLAP}
    refine.update(OUTPUT=str(work / "refined.tif"), VECTOR=str(work / "refined.gpkg"))
    refined = QgsRasterLayer(processing.run("sessrs:refinescene", refine)["OUTPUT"], "refined")

    args.out.mkdir(parents=True, exist_ok=True)
    grab_dialog("sessrs:tunethresholds", tune, args.out / "tune_dialog.png")
    grab_dialog("sessrs:refinescene", refine, args.out / "refine_dialog.png")
    palette = QgsPalettedRasterRenderer(pred.dataProvider(), 1, refined.renderer().classes())
    pred.setRenderer(palette)
    for layer in (pred, refined):
        layer.renderer().setOpacity(0.55)
    titles = ["prediction and the labelled polygons", "refined with the tuned thresholds"]
    render([[areas, pred, scene], [areas, refined, scene]], args.out / "map.png", titles)
    print(f"wrote tune_dialog.png, refine_dialog.png and map.png in {args.out} (work files in {work})")
    plugin.unload()
    return 0


if __name__ == "__main__":
    sys.exit(main())
