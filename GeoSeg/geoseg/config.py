"""Load a plain-Python config file (GeoSeg's ``py2cfg``) into a namespace, with the shared defaults."""
from __future__ import annotations

import runpy
import types
from pathlib import Path
from typing import Any

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
    "net", "loss", "optimizer", "lr_scheduler", "train_loader", "val_loader", "test_dataset",
    "max_epoch", "num_classes", "classes", "ignore_index", "dataset",
    "monitor", "weights_name", "weights_path", "test_weights_name", "log_name",
)


class Config(types.SimpleNamespace):
    """The public names a config file defines, plus ``config_path`` and ``model_name`` (the file stem)."""


def load_config(path: str | Path) -> Config:
    """Execute the config file at ``path`` and return the values it defines as a :class:`Config`.

    Imported modules, functions and classes are left out; :data:`DEFAULTS` fill the settings it omits.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file and the missing keys
    when a required setting is absent.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    names = runpy.run_path(str(path), run_name="geoseg_config")
    values = {
        key: value
        for key, value in names.items()
        if not key.startswith("_") and not isinstance(value, (types.ModuleType, types.FunctionType, type))
    }
    missing = [key for key in REQUIRED if key not in values]
    if missing:
        raise ValueError(f"config {path} does not define: {', '.join(missing)}")
    return Config(**{**DEFAULTS, **values, "config_path": path, "model_name": path.stem})
