"""Load a plain-Python config file (GeoSeg's ``py2cfg``) into a namespace, with the shared defaults.

A config either names a recipe (``recipe = unetformer(dataset="Urban")``, see :mod:`geoseg.recipes`), whose
values it may extend or override with its own names, or defines everything itself as GeoSeg's configs do
(``net``, ``loss``, ``optimizer``, ... see :data:`REQUIRED`).
"""

from __future__ import annotations

import runpy
import traceback
import types
from pathlib import Path
from typing import Any

from rscommon.files import InputError

from .recipes import Recipe

# Settings every training/prediction run needs; a config file only states them when it differs.
DEFAULTS: dict[str, Any] = {
    "monitor_mode": "max",
    "save_top_k": 1,
    "save_last": False,
    "check_val_every_n_epoch": 1,
    "early_stopping_patience": 20,
    "pretrained_ckpt_path": None,
    "resume_ckpt_path": None,
    "test_time_aug": "d4",
}

REQUIRED = (
    "net",
    "loss",
    "optimizer",
    "lr_scheduler",
    "train_loader",
    "val_loader",
    "test_dataset",
    "max_epoch",
    "num_classes",
    "classes",
    "ignore_index",
    "dataset",
    "monitor",
    "weights_name",
    "weights_path",
    "test_weights_name",
    "log_name",
)


class Config(types.SimpleNamespace):
    """The public names a config file defines, plus ``config_path`` and ``model_name`` (the file stem)."""


def load_config(path: str | Path, **recipe_changes: Any) -> Config:
    """Execute the config file at ``path`` and return the values it defines as a :class:`Config`.

    When the file defines ``recipe`` (a :class:`~geoseg.recipes.Recipe`), ``recipe_changes`` are applied to it
    (e.g. ``pretrained=False`` when a checkpoint will supply every weight), it is built, and the file's other
    names are laid over its values; a config that builds everything itself ignores ``recipe_changes``. Imported
    modules, functions and classes are left out; :data:`DEFAULTS`
    fill the settings it omits.

    Raises ``FileNotFoundError`` for a missing file, :class:`~rscommon.files.InputError` naming the file and
    line for a config that does not run, and ``ValueError`` naming the file and the missing keys when a
    required setting is absent.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    names = _run_config(path)
    values = {
        key: value
        for key, value in names.items()
        if not key.startswith("_") and not isinstance(value, (types.ModuleType, types.FunctionType, type))
    }
    recipe = values.pop("recipe", None)
    if recipe is not None:
        if not isinstance(recipe, Recipe):
            raise InputError(f"config {path}: 'recipe' must come from geoseg.recipes, not {type(recipe).__name__}")
        values = {**recipe.replace(**recipe_changes).build(), **values}
    missing = [key for key in REQUIRED if key not in values]
    if missing:
        raise InputError(f"config {path} does not define: {', '.join(missing)}")
    return Config(**{**DEFAULTS, **values, "config_path": path, "model_name": path.stem})


def _run_config(path: Path) -> dict[str, Any]:
    """The names the config file defines; a file that does not run is an error naming its line."""
    try:
        return runpy.run_path(str(path), run_name="geoseg_config")
    except SyntaxError as error:
        raise InputError(f"config {path}, line {error.lineno}: syntax error: {error.msg}") from error
    except OSError:
        raise  # a missing backbone or data file already names its file
    except Exception as error:
        lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == str(path)]
        where = f", line {lines[-1]}" if lines else ""
        kind = "" if isinstance(error, ValueError) else f"{type(error).__name__}: "
        raise InputError(f"config {path}{where}: {kind}{error}") from error
