"""Run with QGIS's own Python (headless) by tests/qgis_plugin/test_provider.py: loads the plugin's provider into a
bare QGIS, does what the job file asks, and writes what happened as JSON.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_plugin/qgis_driver.py JOB.json RESULT.json

The job: ``{"plugin": folder holding sessrs_processing, "action": "describe" | "run" | "style", ...}``; ``run``
takes ``algorithm``, ``parameters`` (an enumeration by its value, ``LABELS`` as ``{"wkt": [...], "classes": [...],
"crs": ...}`` for a scratch layer) and ``cancel_at`` (a progress stage at which to cancel).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsFeature,
    QgsGeometry,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
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
    """Keeps the log, the progress and its stages; cancels when the stage ``cancel_at`` shows."""

    def __init__(self, cancel_at: str | None) -> None:
        super().__init__()
        self.cancel_at = cancel_at
        self.record = {"log": [], "progress": [], "stages": [], "group": None, "group_at_cancel": []}
        self.progressChanged.connect(lambda value: self.record["progress"].append(value))

    def setProgressText(self, text: str) -> None:
        self.record["stages"].append(text)
        if text == self.cancel_at and not self.isCanceled():
            self.record["group_at_cancel"] = group_members(self.record["group"])
            self.cancel()
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
    import processing
    from qgis.core import QgsProcessingContext

    algorithm = QgsApplication.processingRegistry().algorithmById(job["algorithm"])
    parameters = dict(job["parameters"])
    for name, value in parameters.items():
        definition = algorithm.parameterDefinition(name)
        if definition.type() == "enum":
            parameters[name] = definition.options().index(value)
    if isinstance(parameters.get("LABELS"), dict):
        parameters["LABELS"] = scratch_layer(parameters["LABELS"])
    feedback = Recorder(job.get("cancel_at"))
    context = QgsProcessingContext()
    try:
        results = processing.run(job["algorithm"], parameters, feedback=feedback, context=context)
        outcome = {"results": {key: value for key, value in results.items() if isinstance(value, (str, float, int))}}
    except QgsProcessingException as error:
        outcome = {"error": str(error)}
    return {**outcome, **feedback.record}


def describe() -> dict:
    provider = QgsApplication.processingRegistry().providerById("sessrs")
    algorithms = {}
    for algorithm in provider.algorithms():
        enums = {d.name(): d.options() for d in algorithm.parameterDefinitions() if d.type() == "enum"}
        algorithms[algorithm.id()] = {"enums": enums, "parameters": [d.name() for d in algorithm.parameterDefinitions()]}
    return {"algorithms": algorithms}


def style(job: dict) -> dict:
    """Layers loaded as Processing loads outputs, then styled by the plugin's post-processor: their renderers."""
    from sessrs_processing.styles import StyleLoader

    from qgis.core import QgsProcessingContext

    renderers = {}
    for path in job["layers"]:
        layer = QgsRasterLayer(path, "out") if path.endswith(".tif") else QgsVectorLayer(path, "out", "ogr")
        before = layer.renderer().type()
        StyleLoader().postProcessLayer(layer, QgsProcessingContext(), QgsProcessingFeedback())
        renderers[path] = [before, layer.renderer().type()]
    return {"renderers": renderers}


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    sys.path.insert(0, job["plugin"])
    application = QgsApplication([], False)
    application.initQgis()
    sys.path.append(str(Path(QgsApplication.pkgDataPath()) / "python" / "plugins"))  # Processing's own plugin
    from processing.core.Processing import Processing

    Processing.initialize()
    from sessrs_processing import classFactory

    plugin = classFactory(None)
    plugin.initProcessing()
    actions = {"describe": lambda: describe(), "run": lambda: run(job), "style": lambda: style(job)}
    outcome = actions[job["action"]]()
    Path(sys.argv[2]).write_text(json.dumps(outcome))
    plugin.unload()
    application.exitQgis()
    os._exit(0)  # PyQt's teardown of a bare QGIS may crash after the work is done; the result is written


if __name__ == "__main__":
    main()
