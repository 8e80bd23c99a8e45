"""Refine a scene (``pipeline/sessrs_scene.py``) with a ``best.json``, or with a published preset."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFile,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)

from .algorithm import SCENE_OPTIONS, SessrsAlgorithm
from .environment import SCENE_SCRIPT, EnvironmentMissing, published_presets
from .settings import configured_environment
from .styles import load_styled

PRESET_PREFIX = "preset:"  # how the scene command's --thresholds names a preset (its --help says so)


class RefineScene(SessrsAlgorithm):
    """The scene command on a scene with a ``best.json``."""

    SCRIPT = SCENE_SCRIPT
    OPTIONS = {
        **SCENE_OPTIONS,
        "THRESHOLDS": "--thresholds",
        "MAX_OBJECTS": "--max-objects",
        "TILE": "--tile",
        "OVERLAP": "--overlap",
        "MIN_AREA": "--min-area",
        "SIMPLIFY": "--simplify",
        "DST_CRS": "--dst-crs",
        "RESTART": "--restart",
    }

    def name(self) -> str:
        return "refinescene"

    def displayName(self) -> str:
        return "Refine scene"

    def shortHelpString(self) -> str:
        return (
            "Refines a georeferenced scene's class raster with the objects of the scene (pipeline/sessrs_scene.py), "
            "tile by tile, with thresholds from a best.json (from 'Tune thresholds from polygons' or "
            "get_best_t1_t2.py). Outputs a class raster (Cloud-Optimized GeoTIFF) and optionally polygons, loaded "
            "with their style when the command wrote one. Options left empty take the command's defaults. A "
            "cancelled run keeps its finished tiles: run it again to continue. See docs/qgis.md."
        )

    def initAlgorithm(self, config: dict | None = None) -> None:
        self.add_scene_inputs(with_dataset=self.takes_dataset())
        self.add_thresholds()
        self.add(QgsProcessingParameterNumber("TILE", "Tile side in pixels", minValue=64, optional=True))
        self.add(
            QgsProcessingParameterNumber("OVERLAP", "Pixels shared by neighbouring tiles", minValue=0, optional=True)
        )
        self.add(
            QgsProcessingParameterNumber("MAX_OBJECTS", "Longest candidate list used", minValue=1, optional=True), True
        )
        self.add(
            QgsProcessingParameterString(
                "MIN_AREA", "Polygons: leave out regions smaller than (4px, 0.5m2)", optional=True
            ),
            True,
        )
        self.add(
            QgsProcessingParameterNumber(
                "SIMPLIFY",
                "Polygons: simplify by (map units)",
                QgsProcessingParameterNumber.Double,
                minValue=0,
                optional=True,
            ),
            True,
        )
        self.add(
            QgsProcessingParameterString("DST_CRS", "Polygons: reproject to (e.g. EPSG:4326)", optional=True), True
        )
        self.add(QgsProcessingParameterBoolean("RESTART", "Compute every tile again (discard kept tiles)", False), True)
        self.add(QgsProcessingParameterRasterDestination("OUTPUT", "Refined classes", defaultValue=None))
        vector = QgsProcessingParameterVectorDestination(
            "VECTOR", "Refined polygons", optional=True, createByDefault=False
        )
        vector.setSupportsNonFileBasedOutput(False)
        self.add(vector)
        self.addOutput(QgsProcessingOutputFile("REPORT", "Run report (JSON)"))

    def takes_dataset(self) -> bool:
        return True

    def add_thresholds(self) -> None:
        self.add(QgsProcessingParameterFile("THRESHOLDS", "Thresholds (best.json)", extension="json"))

    def processAlgorithm(
        self, parameters: dict[str, Any], context: QgsProcessingContext, feedback: QgsProcessingFeedback
    ) -> dict[str, Any]:
        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        args = [*self.option_values(parameters, context), *self.thresholds_options(parameters, context), "--out", out]
        vector = self.parameterAsOutputLayer(parameters, "VECTOR", context) if self.given(parameters, "VECTOR") else ""
        if vector:
            args += ["--vector", vector]
        self.run_script(args, feedback)
        results = {"OUTPUT": out, "REPORT": f"{out}.report.json"}
        load_styled(context, out)
        if vector:
            load_styled(context, vector)
            results["VECTOR"] = vector
        return results

    def thresholds_options(self, parameters: dict[str, Any], context: QgsProcessingContext) -> list[str]:
        """Nothing more: the best.json is among :attr:`OPTIONS`."""
        return []


class ApplyPreset(RefineScene):
    """The scene command with ``--thresholds preset:NAME``: the dataset is the preset's."""

    OPTIONS = {name: option for name, option in RefineScene.OPTIONS.items() if name not in ("THRESHOLDS", "DATASET")}

    def name(self) -> str:
        return "applypreset"

    def displayName(self) -> str:
        return "Refine scene with a preset"

    def shortHelpString(self) -> str:
        return (
            "Refines a scene as 'Refine scene' does, with published thresholds (sessrs.presets()); the dataset is "
            "the preset's. They were tuned on someone else's model, objects and images: the run report says how "
            "much each class changed, and 'Tune thresholds from polygons' tunes thresholds for your scene."
        )

    def takes_dataset(self) -> bool:
        return False

    def presets(self) -> dict[str, dict[str, str]]:
        try:
            return published_presets(configured_environment())
        except EnvironmentMissing as error:
            self.problem = str(error)
            return {}

    def add_thresholds(self) -> None:
        presets = self.presets()
        labels = [f"{name}: {record['description']}" for name, record in presets.items()]
        self.add(
            QgsProcessingParameterEnum("PRESET", "Published thresholds", labels, defaultValue=0 if labels else None)
        )

    def thresholds_options(self, parameters: dict[str, Any], context: QgsProcessingContext) -> list[str]:
        presets = self.presets()
        if not presets:
            raise QgsProcessingException(self.problem or "the SESSRS environment publishes no preset")
        name = list(presets)[self.parameterAsEnum(parameters, "PRESET", context)]
        return ["--thresholds", f"{PRESET_PREFIX}{name}", "--dataset", presets[name]["dataset"]]
