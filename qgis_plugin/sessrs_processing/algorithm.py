"""What the SESSRS algorithms share: the scene inputs of both commands as Processing parameters, their values as
the command's options, and the run of the command with QGIS's log, progress bar and cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QVariant

from .environment import Environment, EnvironmentMissing, command_choices
from .runner import Progress, run_command
from .settings import configured_environment

BANDS = ("BAND_RED", "BAND_GREEN", "BAND_BLUE")
SCENE_OPTIONS = {  # the scene inputs both commands take (rspipeline.scene_cli.add_scene_inputs)
    "IMAGE": "--image",
    "PRED": "--pred",
    "CONFIG": "--config",
    "CKPT": "--ckpt",
    "WORK_DIR": "--work-dir",
    "TTA": "--tta",
    "OBJECTS": "--objects",
    "MODEL_TYPE": "--model-type",
    "CHECKPOINT": "--checkpoint",
    "DEVICE": "--device",
    "DATASET": "--dataset",
    "NODATA": "--nodata",
    "WORKERS": "--workers",
    "SCHEDULER": "--scheduler",
}


class SessrsAlgorithm(QgsProcessingAlgorithm):
    """An algorithm that runs one of the project's commands (``SCRIPT``). Each parameter in ``OPTIONS`` becomes
    its option when given (a layer its file, an enumeration its value, a boolean its flag); a parameter left
    empty leaves the option to the command's default."""

    SCRIPT = ""
    OPTIONS: dict[str, str] = {}

    def __init__(self) -> None:
        super().__init__()
        self.problem = ""

    def createInstance(self) -> SessrsAlgorithm:
        return type(self)()

    def environment(self) -> Environment:
        """The configured environment; the message of a missing one as a Processing error."""
        try:
            return configured_environment()
        except EnvironmentMissing as error:
            raise QgsProcessingException(str(error)) from error

    def choices(self, option: str) -> list[str]:
        """The values the command allows for ``option`` (none, and :attr:`problem` set, without an environment)."""
        try:
            return command_choices(configured_environment(), self.SCRIPT).get(option, [])
        except EnvironmentMissing as error:
            self.problem = str(error)
            return []

    def add(self, parameter: QgsProcessingParameterDefinition, advanced: bool = False) -> None:
        if advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(parameter)

    def add_choice(self, name: str, description: str, option: str, default: str = "") -> None:
        """An enumeration of the values the command allows for ``option`` (``default`` first chosen when allowed)."""
        values = self.choices(option)
        index = values.index(default) if default in values else 0
        self.add(QgsProcessingParameterEnum(name, description, values, defaultValue=index if values else None))

    def add_scene_inputs(self, with_dataset: bool = True) -> None:
        """The scene, prediction, objects, dataset and execution options both commands take."""
        self.add(QgsProcessingParameterRasterLayer("IMAGE", "Image (the scene)"))
        self.add(
            QgsProcessingParameterRasterLayer(
                "PRED", "Prediction: a class raster on the image's grid (or a GeoSeg config below)", optional=True
            )
        )
        self.add(
            QgsProcessingParameterFile(
                "CONFIG", "GeoSeg config (instead of a prediction)", extension="py", optional=True
            )
        )
        self.add(QgsProcessingParameterFile("CKPT", "GeoSeg checkpoint (with a config)", optional=True), True)
        self.add(
            QgsProcessingParameterFile(
                "WORK_DIR", "GeoSeg work folder (with a config)", QgsProcessingParameterFile.Folder, optional=True
            ),
            True,
        )
        self.add(QgsProcessingParameterString("TTA", "Test-time augmentation: d4, lr or none", optional=True), True)
        self.add_choice("OBJECTS", "Object source ('regions' needs no weights and is not SAM)", "--objects", "sam")
        self.add(QgsProcessingParameterString("MODEL_TYPE", "Backbone of the object source", optional=True), True)
        self.add(QgsProcessingParameterFile("CHECKPOINT", "Weights of the object source", optional=True), True)
        self.add(QgsProcessingParameterString("DEVICE", "Torch device (cpu, cuda, ...)", optional=True), True)
        if with_dataset:
            self.add_choice("DATASET", "Dataset (the prediction's class set)", "--dataset")
        self.add(
            QgsProcessingParameterNumber(
                "NODATA", "Nodata value of the image", QgsProcessingParameterNumber.Double, optional=True
            ),
            True,
        )
        for name, colour in zip(BANDS, ("Red", "Green", "Blue")):
            self.add(
                QgsProcessingParameterBand(name, f"{colour} band", parentLayerParameterName="IMAGE", optional=True),
                True,
            )
        self.add(QgsProcessingParameterNumber("WORKERS", "Local worker processes", minValue=1, optional=True), True)
        self.add(QgsProcessingParameterString("SCHEDULER", "Dask scheduler (tcp://HOST:PORT)", optional=True), True)

    def checkParameterValues(self, parameters: dict[str, Any], context: QgsProcessingContext) -> tuple[bool, str]:
        if self.problem:
            return False, self.problem
        if (self.given(parameters, "PRED") is None) == (self.given(parameters, "CONFIG") is None):
            return False, "Give either a prediction layer or a GeoSeg config"
        return super().checkParameterValues(parameters, context)

    def given(self, parameters: dict[str, Any], name: str) -> Any:
        """The value of ``name`` in ``parameters`` (its default when absent), ``None`` when empty."""
        value = parameters.get(name, self.parameterDefinition(name).defaultValue())
        return None if value is None or value == "" or (isinstance(value, QVariant) and value.isNull()) else value

    def option_values(self, parameters: dict[str, Any], context: QgsProcessingContext) -> list[str]:
        """The command's options for the parameters in :attr:`OPTIONS` and the three bands."""
        args: list[str] = []
        for name, option in self.OPTIONS.items():
            if self.given(parameters, name) is None:
                continue
            value = self.value_of(self.parameterDefinition(name), parameters, context)
            if value is True:
                args.append(option)
            elif value is not False:
                args += [option, value]
        bands = [self.given(parameters, name) for name in BANDS]
        if all(band is not None for band in bands):
            args += ["--bands", *(str(self.parameterAsInt(parameters, name, context)) for name in BANDS)]
        return args

    def value_of(self, definition: QgsProcessingParameterDefinition, parameters: dict, context) -> str | bool:
        """One parameter's value as the command takes it."""
        name = definition.name()
        if isinstance(definition, QgsProcessingParameterRasterLayer):
            return raster_file(self.parameterAsRasterLayer(parameters, name, context), definition.description())
        if isinstance(definition, QgsProcessingParameterEnum):
            return definition.options()[self.parameterAsEnum(parameters, name, context)]
        if isinstance(definition, QgsProcessingParameterBoolean):
            return self.parameterAsBoolean(parameters, name, context)
        if isinstance(definition, QgsProcessingParameterNumber):
            if definition.dataType() == QgsProcessingParameterNumber.Integer:
                return str(self.parameterAsInt(parameters, name, context))
            return repr(self.parameterAsDouble(parameters, name, context))
        if isinstance(definition, QgsProcessingParameterFile):
            return self.parameterAsFile(parameters, name, context)
        return self.parameterAsString(parameters, name, context)

    def run_script(self, args: list[str], feedback: QgsProcessingFeedback) -> list[str]:
        """Run the command with ``args``, its output in the log and its bars on the progress bar; its printed lines.
        A failure or a cancel is a :class:`QgsProcessingException` with the command's own message."""
        environment = self.environment()
        command = environment.command(self.SCRIPT, args)
        feedback.pushCommandInfo(" ".join(command))
        lines: list[str] = []
        stage = [""]

        def progress(state: Progress) -> None:
            if state.stage != stage[0]:
                stage[0] = state.stage
                feedback.setProgressText(state.stage)
            feedback.setProgress(state.percent)

        def line(text: str) -> None:
            lines.append(text)
            feedback.pushConsoleInfo(text)

        outcome = run_command(
            command,
            environment,
            line,
            progress,
            feedback.isCanceled,
            lambda pid: feedback.pushInfo(f"process group {pid}"),
        )
        if outcome.canceled:
            raise QgsProcessingException("Canceled: the command and its workers were stopped; finished work is kept")
        if outcome.returncode != 0:
            raise QgsProcessingException(f"{Path(self.SCRIPT).name} failed: {outcome.error}")
        return lines


def raster_file(layer, description: str) -> str:
    """The file of a raster layer; a layer that is not a file GDAL reads is refused, naming it."""
    path = layer.source().split("|")[0]
    if layer.providerType() != "gdal" or not Path(path).is_file():
        raise QgsProcessingException(
            f"{description}: layer {layer.name()} is no raster file ({layer.source()}); save it as a GeoTIFF first"
        )
    return path
