"""Run with QGIS's own Python (headless) by tests/qgis_plugin/test_provider.py: loads the plugin's provider into a
bare QGIS, runs the jobs of a job file in one session, and writes what happened as JSON.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_plugin/qgis_driver.py JOBS.json RESULTS.json

JOBS: ``{"plugin": the folder holding sessrs_processing, "jobs": {name: job}}``; a job has an ``action``
(``describe``, ``run``, ``stored_style``) and ``environ`` (variables set for it). ``run`` takes ``algorithm``,
``parameters`` (an enumeration by its value or a preset by its name; ``LABELS`` as ``{"wkt": [...], "classes":
[...], "crs": ...}`` makes a scratch layer), ``load`` (load the outputs as the toolbox does), ``style_beside`` (a
style file to write first) and ``cancel_at`` (the progress stage at which to cancel).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsFeature,
    QgsFillSymbol,
    QgsGeometry,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsRendererCategory,
    QgsSingleBandGrayRenderer,
    QgsVectorLayer,
)


def group_members(group: int) -> list[int]:
    """The processes of process group ``group`` (read from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == group and fields[0] != "Z":
                members.append(int(entry.name))
    return members


class Recorder(QgsProcessingFeedback):
    """Keeps the log, the progress and its stages; cancels once the stage ``cancel_at`` has made progress, noting
    the processes of the command's group at that moment."""

    def __init__(self, cancel_at: str | None) -> None:
        super().__init__()
        self.cancel_at = cancel_at
        self.record = {"log": [], "progress": [], "stages": [], "group": None, "group_at_cancel": []}
        self.progressChanged.connect(self.progressed)

    def progressed(self, value: float) -> None:
        self.record["progress"].append(value)
        stages = self.record["stages"]
        if stages and stages[-1] == self.cancel_at and value > 0 and not self.isCanceled():
            self.record["group_at_cancel"] = group_members(self.record["group"])
            self.cancel()

    def setProgressText(self, text: str) -> None:
        self.record["stages"].append(text)
        super().setProgressText(text)

    def pushInfo(self, text: str) -> None:
        if text.startswith("process group "):
            self.record["group"] = int(text.split()[-1])
        self.record["log"].append(text)

    def pushConsoleInfo(self, text: str) -> None:
        self.record["log"].append(text)

    def pushCommandInfo(self, text: str) -> None:
        self.record["log"].append(text)


def scratch_layer(spec: dict) -> QgsVectorLayer:
    """A memory layer of polygons with a string field ``class`` (not file-backed, as a layer just drawn)."""
    layer = QgsVectorLayer(f"Polygon?crs={spec['crs']}&field=class:string", "drawn", "memory")
    features = []
    for wkt, value in zip(spec["wkt"], spec["classes"]):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromWkt(wkt))
        feature.setAttribute("class", value)
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    QgsProject.instance().addMapLayer(layer)
    return layer


def run(job: dict) -> dict:
    """One algorithm run (loading its outputs as the toolbox does when ``load``), and what was logged."""
    import processing

    algorithm = QgsApplication.processingRegistry().algorithmById(job["algorithm"])
    parameters = dict(job["parameters"])
    for name, value in parameters.items():
        definition = algorithm.parameterDefinition(name)
        if definition.type() == "enum":
            labels = definition.options()  # a preset's label is "NAME: description"
            parameters[name] = next(i for i, label in enumerate(labels) if label.split(": ")[0] == value)
    if isinstance(parameters.get("LABELS"), dict):
        parameters["LABELS"] = scratch_layer(parameters["LABELS"])
    if job.get("style_beside"):
        gray_style(parameters["IMAGE"], job["style_beside"])
    feedback = Recorder(job.get("cancel_at"))
    call = processing.runAndLoadResults if job.get("load") else processing.run
    try:
        results = call(job["algorithm"], parameters, feedback=feedback)
        outcome = {"results": {key: value for key, value in results.items() if isinstance(value, (str, float, int))}}
    except QgsProcessingException as error:
        outcome = {"error": str(error)}
    loaded = {layer.source(): layer.renderer().type() for layer in QgsProject.instance().mapLayers().values()}
    return {**outcome, **feedback.record, "loaded": loaded}


def gray_style(image: str, path: str) -> None:
    """A style file at ``path``: band 1 of ``image`` in grey (not what a class raster shows by itself)."""
    layer = QgsRasterLayer(image, "image")
    layer.setRenderer(QgsSingleBandGrayRenderer(layer.dataProvider(), 1))
    layer.saveNamedStyle(path)


def describe(job: dict) -> dict:
    """The provider's algorithms, their parameters and the values of their enumerations."""
    provider = QgsApplication.processingRegistry().providerById("sessrs")
    algorithms = {}
    for algorithm in provider.algorithms():
        enums = {d.name(): d.options() for d in algorithm.parameterDefinitions() if d.type() == "enum"}
        algorithms[algorithm.id()] = {
            "enums": enums,
            "parameters": [d.name() for d in algorithm.parameterDefinitions()],
        }
    return {"algorithms": algorithms}


def stored_style(job: dict) -> dict:
    """A GeoPackage layer given a stored default style (categorised), loaded without it as Processing loads an
    output, then passed to the plugin's post-processor: its renderer before and after."""
    from sessrs_processing.styles import StyleLoader

    styled = QgsVectorLayer(job["gpkg"], "styled", "ogr")
    building = QgsRendererCategory("1", QgsFillSymbol.createSimple({}), "Building")
    styled.setRenderer(QgsCategorizedSymbolRenderer("class", [building]))
    styled.saveStyleToDatabase("sessrs", "test style", True, "")
    options = QgsVectorLayer.LayerOptions()
    options.loadDefaultStyle = False
    layer = QgsVectorLayer(job["gpkg"], "out", "ogr", options)
    before = layer.renderer().type()
    StyleLoader().postProcessLayer(layer, QgsProcessingContext(), QgsProcessingFeedback())
    return {"renderers": [before, layer.renderer().type()]}


ACTIONS = {"describe": describe, "run": run, "stored_style": stored_style}


def main() -> None:
    """Run every job of the job file in one QGIS session (each with its environment variables), results by name."""
    jobs = json.loads(Path(sys.argv[1]).read_text())
    sys.path.insert(0, jobs["plugin"])
    from sessrs_processing.headless import start_headless

    application, plugin = start_headless()
    outcomes = {}
    for name, job in jobs["jobs"].items():
        saved = dict(os.environ)
        os.environ.update(job.get("environ", {}))
        outcomes[name] = ACTIONS[job["action"]](job)
        os.environ.clear()
        os.environ.update(saved)
    Path(sys.argv[2]).write_text(json.dumps(outcomes))
    plugin.unload()
    application.exitQgis()
    os._exit(0)  # PyQt's teardown of a bare QGIS may crash after the work is done; the results are written


if __name__ == "__main__":
    main()
