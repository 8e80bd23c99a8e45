"""Published thresholds shipped with the package (``sessrs/presets/<name>.json``), with their provenance.

Each preset records what its thresholds were tuned for (dataset, model, objects, mode), where they were read
(repository, commit, files), the figures reported with them, and, where the published files allow it, the
share of pixels the thresholds changed to and from each class on the images they were tuned on
(``tuned_changes``, the same form as in a pick's ``best.json``; ``null`` when unknown, ``tuned_changes_note``
says why).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from rscommon.datasets import DatasetSpec, get_dataset
from rscommon.files import InputError

from .modes import RefineOptions
from .thresholds import Thresholds, applied_with

PRESET_PREFIX = "preset:"
"""How a command-line argument names a preset instead of a ``best.json`` path."""


@dataclass(frozen=True)
class Preset:
    """One shipped preset: its thresholds and the record of where they come from (the whole JSON)."""

    name: str
    dataset: str
    thresholds: Thresholds
    record: Mapping[str, Any]

    def message(self) -> str:
        """What to tell someone applying the preset: what it was tuned for, and that their data may differ."""
        tuned, reported = self.record["tuned_for"], self.record["reported"]
        return (
            f"preset {self.name}: thresholds tuned for {tuned['dataset']}, {tuned['model']} predictions and "
            f"{tuned['objects']}; reported mIoU {reported['unrefined']['mIoU']} -> {reported['refined']['mIoU']} "
            f"on {reported['images']} ({self.record['provenance']['repository']} at "
            f"{self.record['provenance']['commit'][:7]}). Your own model, objects and scenes may differ: "
            "check the thresholds on a few labelled images of yours before trusting them."
        )


def _folder() -> Any:
    return resources.files(__package__).joinpath("presets")


def preset_names() -> list[str]:
    """The names of the shipped presets, sorted."""
    return sorted(entry.name.removesuffix(".json") for entry in _folder().iterdir() if entry.name.endswith(".json"))


def presets() -> dict[str, str]:
    """Every shipped preset: name -> short description."""
    return {name: read_preset(name).record["description"] for name in preset_names()}


def preset(name: str) -> Thresholds:
    """The thresholds of the shipped preset ``name`` (:func:`presets` lists them, with what each was tuned for);
    an unknown name is one :class:`InputError` line listing the known ones."""
    return read_preset(name).thresholds


def read_preset(name: str) -> Preset:
    """The shipped preset ``name``; an unknown name is one :class:`InputError` line listing the known ones."""
    names = preset_names()
    if name not in names:
        raise InputError(f"unknown preset {name!r}; known presets: {', '.join(names)}")
    source = f"preset {name}"
    record = json.loads(_folder().joinpath(f"{name}.json").read_text(encoding="utf-8"))
    spec = get_dataset(record["dataset"])
    thresholds = Thresholds.from_json(record["thresholds"], source)
    thresholds.check_classes(spec.num_classes, source)
    return Preset(name=name, dataset=spec.name, thresholds=thresholds, record=record)


def thresholds_from_argument(value: str, dataset: DatasetSpec | str) -> tuple[Thresholds, str | None]:
    """Thresholds named on a command line: ``preset:NAME`` (a shipped preset, with the message to print about
    what it was tuned for) or the path of a ``best.json`` (no message); checked against ``dataset``."""
    spec = get_dataset(dataset) if isinstance(dataset, str) else dataset
    if not value.startswith(PRESET_PREFIX):
        return Thresholds.read(value, spec), None
    preset = read_preset(value.removeprefix(PRESET_PREFIX))
    if preset.dataset != spec.name:
        raise InputError(f"preset {preset.name} was tuned for {preset.dataset}, not {spec.name}")
    return preset.thresholds, preset.message()


def thresholds_to_apply(
    value: str, dataset: DatasetSpec | str, mode: str | None, max_objects: int | None
) -> tuple[Thresholds, str | None, RefineOptions, int]:
    """:func:`thresholds_from_argument` with the options and object limit to apply them with: those their record
    gives, a ``mode`` / ``max_objects`` asked for on the command line (``None``: not asked), or one
    :class:`InputError` line when the two disagree (:func:`sessrs.thresholds.applied_with`)."""
    spec = get_dataset(dataset) if isinstance(dataset, str) else dataset
    thresholds, message = thresholds_from_argument(value, spec)
    asked = None if mode is None else RefineOptions.for_mode(mode)
    options, limit = applied_with(thresholds, spec.name, asked, max_objects, value)
    return thresholds, message, options, limit
