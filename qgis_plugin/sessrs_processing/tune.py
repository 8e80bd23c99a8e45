"""Tune the thresholds of a scene from a polygon layer of labelled areas (``pipeline/sessrs_tune.py``)."""

from __future__ import annotations

import re
from typing import Any

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from .algorithm import SCENE_OPTIONS, SessrsAlgorithm
from .environment import TUNE_SCRIPT

# The command's last line on the areas: "on the areas: mIoU 61.23 -> 62.10".
_MIOU = re.compile(r"^on the areas: mIoU (?P<before>[\d.]+) -> (?P<after>[\d.]+)")
# The command's line naming the thresholds it wrote: "2 labelled areas (5,120 labelled pixels) -> OUT/best.json".
_BEST = re.compile(r"^\d+ labelled areas \(.*\) -> (?P<best>.+)$")
# Formats the command reads as they are; any other layer (a memory layer, a selection, a database) is exported first.
LABEL_FORMATS = ["gpkg", "shp", "geojson", "fgb"]


class TuneThresholds(SessrsAlgorithm):
    """The tuning command on the labelled polygons the user drew."""

    SCRIPT = TUNE_SCRIPT
    OPTIONS = {
        **SCENE_OPTIONS,
        "CLASS_FIELD": "--class-field",
        "CONTEXT": "--context",
        "SEARCH": "--search",
        "SELECT": "--select",
        "MODE": "--mode",
        "THRESHOLD_MODE": "--threshold-mode",
        "FOLDS": "--folds",
        "SEED": "--seed",
    }

    def name(self) -> str:
        return "tunethresholds"

    def displayName(self) -> str:
        return "Tune thresholds from polygons"

    def shortHelpString(self) -> str:
        return (
            "Tunes the refinement's thresholds for a scene from a few polygons drawn over it, each filled with one "
            "class (a class id or name in the class field), with pipeline/sessrs_tune.py. Writes best.json in the "
            "output folder, for 'Refine scene', and logs the mIoU of the labelled areas before and after. A layer "
            "that is not a file (a scratch layer, a selection) is exported to a temporary GeoPackage first. Options "
            "left empty take the command's defaults. See docs/tuning.md and docs/qgis.md."
        )

    def initAlgorithm(self, config: dict | None = None) -> None:
        self.add_scene_inputs()
        self.add(
            QgsProcessingParameterFeatureSource(
                "LABELS", "Labelled areas (polygons)", [QgsProcessing.TypeVectorPolygon]
            )
        )
        self.add(QgsProcessingParameterField("CLASS_FIELD", "Class field", "class", parentLayerParameterName="LABELS"))
        self.add(
            QgsProcessingParameterNumber("CONTEXT", "Pixels of context around each area", minValue=0, optional=True)
        )
        self.add_choice("SEARCH", "Search", "--search", "pick")
        self.add_choice("SELECT", "Selection", "--select", "all")
        self.add_choice("MODE", "Refinement mode", "--mode", "faithful")
        self.add(
            QgsProcessingParameterString("THRESHOLD_MODE", "Largest picked t1 applied, or 'all'", optional=True), True
        )
        self.add(QgsProcessingParameterNumber("FOLDS", "Folds of the cv selection", minValue=2, optional=True), True)
        self.add(QgsProcessingParameterNumber("SEED", "Seed of the cv selection's folds", optional=True), True)
        self.add(QgsProcessingParameterFolderDestination("OUTPUT", "Output folder"))
        self.addOutput(QgsProcessingOutputFile("BEST", "Thresholds (best.json)"))
        self.addOutput(QgsProcessingOutputNumber("MIOU_BEFORE", "mIoU of the labelled areas, unrefined"))
        self.addOutput(QgsProcessingOutputNumber("MIOU_AFTER", "mIoU of the labelled areas, refined"))

    def processAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        labels = self.parameterAsCompatibleSourceLayerPath(
            parameters, "LABELS", context, LABEL_FORMATS, "gpkg", feedback
        )
        out = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        lines = self.run_script([*self.option_values(parameters, context), "--labels", labels, "--out", out], feedback)
        results: dict[str, Any] = {"OUTPUT": out}
        for line in lines:
            written = _BEST.match(line.strip())
            if written:
                results["BEST"] = written["best"]
            match = _MIOU.match(line)
            if match:
                results.update(MIOU_BEFORE=float(match["before"]), MIOU_AFTER=float(match["after"]))
                feedback.pushInfo(f"mIoU of the labelled areas: {match['before']} -> {match['after']}")
        return results
