"""The thresholds a pick chooses and the application uses (``best.json``), and the reference's two object limits.

``best.json`` keeps the reference's shape: ``{"t1": {"0": 0.7, ...}, "t2": {"0": 0.55, ...}, "modify": [0, 1]}``
(class ids as strings, since JSON keys are strings). In Python the same is a :class:`Thresholds` keyed by int.
A ``best.json`` written by this package also records how its thresholds were tuned to be applied (the dataset,
the refinement mode and its switches, the object limit: :class:`Application`); every consumer applies them so,
or refuses a conflicting setting in one line (:func:`applied_with`).
An optional ``"method"`` names a vote that replaces the thresholds (:data:`METHODS`, :mod:`sessrs.methods`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, read_json, write_json_atomic

from .modes import FAITHFUL, MODES, RefineOptions

SWEEP_MAX_OBJECTS = 10
"""The sweep ignores a list of two or more candidates this long or longer (the reference's ``sessrs_t1_t2.py``)."""
APPLY_MAX_OBJECTS = 5
"""The application of picked thresholds ignores a list of two or more candidates this long or longer (the reference's
``get_best_t1_t2.py``; quirk 3: it differs from the sweep's)."""
NEVER = 1.0
METHODS = ("thresholds", "ssa_vote", "majority_vote")
"""What a refinement does: refine with the per-class thresholds (the reference), or paint every object with its
plurality predicted class (Semantic Segment Anything's vote), or only where that class covers more than half of it
(see :mod:`sessrs.voting`; a vote ignores t1, t2 and modify)."""
"""The threshold of a class that is never refined: the tests are strict ``>``, so no share exceeds 1."""
APPLICATION_KEYS = ("dataset", "mode", "options", "max_objects")
"""The keys of ``best.json`` that record its :class:`Application`."""


@dataclass(frozen=True)
class Application:
    """How thresholds were tuned to be applied: the dataset, the refinement options and the object limit."""

    dataset: str
    options: RefineOptions
    max_objects: int

    def to_json(self) -> dict[str, Any]:
        """The ``best.json`` keys (``mode`` is for people; ``options`` holds the switches)."""
        return {
            "dataset": self.dataset,
            "mode": self.options.mode,
            "options": self.options.to_json(),
            "max_objects": self.max_objects,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: str | Path) -> Application | None:
        """The application recorded in a ``best.json``'s ``data`` (``None`` when it records no mode: written by
        the reference or an older version); a part missing or malformed is one :class:`InputError` line."""
        if "options" not in data and "mode" not in data:
            return None
        missing = [key for key in APPLICATION_KEYS if key not in data]
        if missing:
            raise InputError(f"{source}: records the refinement mode but not {', '.join(missing)}")
        if not isinstance(data["dataset"], str) or not isinstance(data["options"], Mapping):
            raise InputError(f"{source}: dataset must be a name and options an object of refinement switches")
        try:
            options = RefineOptions.from_json(data["options"])
        except (InputError, TypeError, ValueError) as error:
            raise InputError(f"{source}: options: {error}") from None
        if data["mode"] != options.mode:
            raise InputError(f"{source}: mode {data['mode']!r} disagrees with its options ({options.mode} mode)")
        try:
            max_objects = check_max_objects(data["max_objects"])
        except InputError as error:
            raise InputError(f"{source}: {error}") from None
        return cls(dataset=data["dataset"], options=options, max_objects=max_objects)


@dataclass(frozen=True)
class Thresholds:
    """Per class ``t1`` and ``t2`` in (0, 1] (a class not listed gets 1, never) and ``modify``, the classes to
    refine, in the order the refinement takes them.

    >>> Thresholds(t1={1: 0.5}, t2={1: 0.6}, modify=[1]).to_json()
    {'t1': {'1': 0.5}, 't2': {'1': 0.6}, 'modify': [1]}
    """

    t1: Mapping[int, float]
    t2: Mapping[int, float]
    modify: tuple[int, ...]
    application: Application | None = dataclasses.field(default=None, compare=False, repr=False)
    """How the thresholds were tuned to be applied (read from a ``best.json``; not part of their equality)."""
    method: str = "thresholds"

    def __post_init__(self) -> None:
        check_method(self.method, "thresholds")
        object.__setattr__(self, "t1", _per_class(self.t1, "t1", "thresholds"))
        object.__setattr__(self, "t2", _per_class(self.t2, "t2", "thresholds"))
        object.__setattr__(self, "modify", _classes(self.modify, "modify", "thresholds"))
        _check_refined_have_thresholds(self.t1, self.t2, self.modify, "thresholds")

    @classmethod
    def from_json(cls, data: Any, source: str | Path = "thresholds", num_classes: int | None = None) -> Thresholds:
        """Thresholds from the parsed ``best.json`` form; a malformed field is an :class:`InputError` naming it.
        With ``num_classes``, every class must be below it (checked before anything else is)."""
        if not isinstance(data, Mapping) or not all(key in data for key in ("t1", "t2", "modify")):
            raise InputError(f'{source}: expected {{"t1": {{class: t1}}, "t2": {{class: t2}}, "modify": [classes]}}')
        t1, t2 = _per_class(data["t1"], "t1", source), _per_class(data["t2"], "t2", source)
        modify = _classes(data["modify"], "modify", source)
        if num_classes is not None:
            _check_range(t1, t2, modify, num_classes, source)
        _check_refined_have_thresholds(t1, t2, modify, source)
        return cls(
            t1=t1,
            t2=t2,
            modify=modify,
            method=check_method(data.get("method", "thresholds"), source),
            application=Application.from_json(data, source),
        )

    @classmethod
    def read(cls, path: str | Path, spec: DatasetSpec | None = None) -> Thresholds:
        """Read a ``best.json``; with ``spec``, every class must be one of that dataset's."""
        return cls.from_json(read_json(path), path, spec.num_classes if spec is not None else None)

    def to_json(self) -> dict[str, Any]:
        """The ``best.json`` form: class ids as strings, in class order (``method`` only when it is a vote; without
        the application)."""
        data = {
            "t1": {str(c): v for c, v in self.t1.items()},
            "t2": {str(c): v for c, v in self.t2.items()},
            "modify": list(self.modify),
        }
        return data if self.method == "thresholds" else {**data, "method": self.method}

    def write(self, path: str | Path) -> None:
        """Write ``best.json`` atomically (with the application, when known)."""
        write_json_atomic(path, {**self.to_json(), **(self.application.to_json() if self.application else {})})

    def check_classes(self, num_classes: int, source: str | Path = "thresholds") -> None:
        """Raise :class:`InputError` when a class is outside ``0..num_classes - 1``."""
        _check_range(self.t1, self.t2, self.modify, num_classes, source)

    def t1_array(self, num_classes: int) -> np.ndarray:
        """``t1`` as a per-class array of length ``num_classes`` (1 where not given)."""
        return self._array(self.t1, num_classes)

    def t2_array(self, num_classes: int) -> np.ndarray:
        """``t2`` as a per-class array of length ``num_classes`` (1 where not given)."""
        return self._array(self.t2, num_classes)

    def by_class_name(self, spec: DatasetSpec) -> dict[str, Any]:
        """``modify``, ``t1`` and ``t2`` with class names instead of ids, for reports."""
        self.check_classes(spec.num_classes)
        return {
            "modify": [spec.classes[c] for c in self.modify],
            "t1": {spec.classes[c]: v for c, v in self.t1.items()},
            "t2": {spec.classes[c]: v for c, v in self.t2.items()},
        }

    def _array(self, values: Mapping[int, float], num_classes: int) -> np.ndarray:
        self.check_classes(num_classes)
        array = np.full(num_classes, NEVER, np.float64)
        for cls, value in values.items():
            array[cls] = value
        return array


def _class_id(key: Any, field: str, source: str | Path) -> int:
    """A class id from an int or a decimal string (JSON keys); anything else names the field."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        cls = int(key)
    elif isinstance(key, str) and key.strip().isdecimal():
        cls = int(key)
    else:
        raise InputError(f"{source}: {field}: class {key!r} is not a class id (a non-negative integer)")
    if cls < 0:
        raise InputError(f"{source}: {field}: class {key!r} is not a class id (a non-negative integer)")
    return cls


def threshold_value(value: Any, where: str) -> float:
    """A threshold: a finite number in (0, 1]; anything else is an :class:`InputError` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{where}: {value!r} is not a number")
    value = float(value)
    if not (math.isfinite(value) and 0 < value <= 1):
        raise InputError(f"{where}: {value!r} is not in (0, 1]")
    return value


def _per_class(values: Any, field: str, source: str | Path) -> dict[int, float]:
    if not isinstance(values, Mapping):
        raise InputError(f"{source}: {field} must map class ids to thresholds, found {type(values).__name__}")
    result = {}
    for key, value in values.items():
        cls = _class_id(key, field, source)
        if cls in result:
            raise InputError(f"{source}: {field}: class {cls} given twice")
        result[cls] = threshold_value(value, f"{source}: {field}[{key!r}]")
    return dict(sorted(result.items()))


def _classes(values: Any, field: str, source: str | Path) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise InputError(f"{source}: {field} must be a list of class ids, found {type(values).__name__}")
    classes = tuple(_class_id(value, field, source) for value in values)
    if len(set(classes)) != len(classes):
        raise InputError(f"{source}: {field} names a class twice: {list(classes)}")
    return classes


def _check_range(
    t1: Mapping[int, float], t2: Mapping[int, float], modify: Sequence[int], num_classes: int, source: str | Path
) -> None:
    for field, classes in (("t1", t1), ("t2", t2), ("modify", modify)):
        outside = [c for c in classes if c >= num_classes]
        if outside:
            raise InputError(f"{source}: {field} names classes {outside}, outside 0..{num_classes - 1}")


def _check_refined_have_thresholds(
    t1: Mapping[int, float], t2: Mapping[int, float], modify: Sequence[int], source: str | Path
) -> None:
    """Refuse a class in ``modify`` without a ``t1`` or ``t2`` (it would silently never be refined)."""
    for field, given in (("t1", t1), ("t2", t2)):
        missing = [c for c in modify if c not in given]
        if missing:
            raise InputError(
                f"{source}: modify names classes {missing} without a {field}; give each refined class its t1 and t2"
            )


def check_method(value: Any, source: str | Path) -> str:
    """A refinement method, one of :data:`METHODS`; anything else is an :class:`InputError` naming ``source``."""
    if value not in METHODS:
        raise InputError(f"{source}: method {value!r} is not one of {', '.join(METHODS)}")
    return value


def check_max_objects(value: Any) -> int:
    """An object limit: a whole number of at least 1 (a list of two or more candidates this long or longer is not
    used)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"max_objects must be a whole number of at least 1, got {value!r}")
    return int(value)


def applied_with(
    thresholds: Thresholds,
    dataset: str | None,
    options: RefineOptions | None,
    max_objects: int | None,
    source: str | Path = "thresholds",
) -> tuple[RefineOptions, int]:
    """The refinement options and object limit to apply ``thresholds`` with: those they were tuned with (or the
    reference's, when they record none) unless given. A given setting (or ``dataset``) that differs from the
    recorded one is one :class:`InputError` line naming the option to drop."""
    max_objects = None if max_objects is None else check_max_objects(max_objects)
    recorded = thresholds.application
    if recorded is None:
        return options if options is not None else FAITHFUL, max_objects or APPLY_MAX_OBJECTS
    if dataset is not None and dataset != recorded.dataset:
        raise InputError(f"{source}: tuned for {recorded.dataset}, not {dataset}; give --dataset {recorded.dataset}")
    if options is not None and options != recorded.options:
        named = f"--mode {recorded.options.mode}" if recorded.options.mode in MODES else "its options"
        raise InputError(
            f"{source}: tuned in {recorded.options.mode} mode, applied in {options.mode} mode; leave --mode out "
            f"(it is taken from the file) or give {named}"
        )
    if max_objects is not None and max_objects != recorded.max_objects:
        raise InputError(
            f"{source}: tuned with max_objects {recorded.max_objects}, applied with {max_objects}; leave "
            f"--max-objects out (it is taken from the file) or give --max-objects {recorded.max_objects}"
        )
    return recorded.options, recorded.max_objects
