"""Choose the checkpoint to predict with, and read it (ours or the paper's released ones) into a bare network,
never running its code.

Checkpoints are loaded with ``torch.load(weights_only=True)``: tensors, numbers, strings and containers only,
plus the few plain records Lightning checkpoints hold (numpy scalars in callback states, paths, hyper-parameter
dicts), allowed by name in :data:`PLAIN_RECORDS`. A file that needs anything else is refused.
"""

from __future__ import annotations

import argparse
import pathlib
import pickle
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from rscommon.files import InputError, read_json
from rscommon.paths import resolve_path

if TYPE_CHECKING:
    from .config import Config

NET_PREFIX = "net."
# Written beside the checkpoints by each training (geoseg.train): which checkpoint that training produced.
TRAINING_RECORD = "last_training.json"


def _numpy_globals() -> list:
    """numpy's scalar reconstructor and dtype classes, also under numpy 1's module name for older files."""
    scalar = np._core.multiarray.scalar
    dtypes = [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType")]
    return [scalar, (scalar, "numpy.core.multiarray.scalar"), np.dtype, *dtypes]


# Where Lightning's ``AttributeDict`` (its saved hyper-parameters) is defined, across versions.
LIGHTNING_RECORD_MODULES = (
    "lightning_fabric.utilities.data",
    "pytorch_lightning.utilities.parsing",
    "lightning.fabric.utilities.data",
)

# Plain records that checkpoints may hold besides tensors; none of them runs code when rebuilt. An ``AttributeDict``
# is read as the plain dict it extends: the safe unpickler fills no other mapping, and Lightning (seconds to
# import) is not needed to read a checkpoint.
PLAIN_RECORDS = [
    *_numpy_globals(),
    *((dict, f"{module}.AttributeDict") for module in LIGHTNING_RECORD_MODULES),
    argparse.Namespace,
    pathlib.PosixPath,
    pathlib.WindowsPath,
    pathlib.PurePosixPath,
    pathlib.PureWindowsPath,
]


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint file on the CPU with ``weights_only=True`` and Lightning's safe records only.

    Raises ``FileNotFoundError`` for a missing file and :class:`~rscommon.files.InputError` (one line naming
    the file and the Python objects it wanted) for a file that would need other objects to load.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    try:
        with torch.serialization.safe_globals(PLAIN_RECORDS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        wanted = ", ".join(_unsafe_globals(path)) or str(error).splitlines()[0]
        raise InputError(
            f"checkpoint {path} refused: it holds pickled Python objects that could run code ({wanted}); "
            f"only tensors and Lightning's plain records are loaded"
        ) from None
    except (RuntimeError, EOFError) as error:
        raise InputError(f"checkpoint {path} is not a readable torch checkpoint ({error})") from None


def _unsafe_globals(path: Path) -> list[str]:
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # a damaged file: the refusal message falls back to torch's own
        return []


def load_net_weights(net: nn.Module, path: str | Path) -> None:
    """Load the ``net.*`` entries of a Lightning checkpoint (or a bare state_dict) into ``net``, strictly."""
    state = read_checkpoint(path)
    if not isinstance(state, dict):
        raise InputError(f"checkpoint {path} holds a {type(state).__name__}, not a state_dict")
    state = state.get("state_dict", state)
    if any(key.startswith(NET_PREFIX) for key in state):
        state = {key[len(NET_PREFIX) :]: value for key, value in state.items() if key.startswith(NET_PREFIX)}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise InputError(f"checkpoint {path} does not fit {type(net).__name__}: {error}") from error


def weights_dir(config: Config, work_dir: Path) -> Path:
    """The folder of a config's checkpoints: ``<work_dir>/<weights_path>``."""
    return resolve_path(config.weights_path, work_dir)


def trained_checkpoint(config: Config, work_dir: Path) -> tuple[Path, str]:
    """The checkpoint to predict with, and why: the best one of the last training when it left a record,
    else ``<weights_path>/<test_weights_name>.ckpt`` (e.g. a released checkpoint put there by hand)."""
    folder = weights_dir(config, work_dir)
    record_path = folder / TRAINING_RECORD
    if record_path.is_file():
        record = read_json(record_path)
        name = record.get("best_checkpoint") if isinstance(record, dict) else None
        if not name:
            raise FileNotFoundError(
                f"{record_path}: the last training saved no best checkpoint (no validation ran?); pass --ckpt"
            )
        return folder / name, f"the best checkpoint of the last training, recorded in {record_path}"
    return folder / f"{config.test_weights_name}.ckpt", f"the config's test_weights_name (no {TRAINING_RECORD} there)"
