"""Standard checkpoint file names and their official download addresses, looked up under ``weights/``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rscommon.paths import weights_dir

_SAM_URL = "https://dl.fbaipublicfiles.com/segment_anything/"
_HQ_URL = "https://huggingface.co/lkeab/hq-sam/resolve/main/"
_SSAM_URL = "https://github.com/UX-Decoder/Semantic-SAM/releases/download/checkpoint/"


@dataclass(frozen=True)
class CheckpointInfo:
    """A published checkpoint: the standard file name and where it is officially downloaded from."""

    file_name: str
    url: str


def _published(base_url: str, file_name: str) -> CheckpointInfo:
    return CheckpointInfo(file_name, base_url + file_name)


CHECKPOINTS: dict[str, dict[str, CheckpointInfo]] = {
    "sam": {
        "vit_h": _published(_SAM_URL, "sam_vit_h_4b8939.pth"),
        "vit_l": _published(_SAM_URL, "sam_vit_l_0b3195.pth"),
        "vit_b": _published(_SAM_URL, "sam_vit_b_01ec64.pth"),
    },
    "samhq": {
        "vit_h": _published(_HQ_URL, "sam_hq_vit_h.pth"),
        "vit_l": _published(_HQ_URL, "sam_hq_vit_l.pth"),
        "vit_b": _published(_HQ_URL, "sam_hq_vit_b.pth"),
        "vit_tiny": _published(_HQ_URL, "sam_hq_vit_tiny.pth"),
    },
    "ssam": {
        "swinl": _published(_SSAM_URL, "swinl_only_sam_many2many.pth"),
        "swint": _published(_SSAM_URL, "swint_only_sam_many2many.pth"),
    },
}

DEFAULT_MODEL_TYPE = {"sam": "vit_h", "samhq": "vit_h", "ssam": "swinl"}


class MissingCheckpointError(FileNotFoundError):
    """The checkpoint file is absent; the message names the file and where it is published."""


def checkpoint_info(model: str, model_type: str) -> CheckpointInfo:
    """The published checkpoint for ``model`` (sam, samhq, ssam) with backbone ``model_type``."""
    if model not in CHECKPOINTS:
        raise ValueError(f"model {model!r} has no checkpoint; choose one of {sorted(CHECKPOINTS)}")
    types = CHECKPOINTS[model]
    if model_type not in types:
        raise ValueError(f"--model {model} has no model type {model_type!r}; choose one of {sorted(types)}")
    return types[model_type]


def default_checkpoint_path(model: str, model_type: str) -> Path:
    """The standard file name of the checkpoint in the weights folder (``$SESSRS_WEIGHTS`` or ``weights/``)."""
    return weights_dir() / checkpoint_info(model, model_type).file_name


def require_checkpoint(path: str | Path, model: str, model_type: str) -> Path:
    """Return ``path`` if it is a file, else raise :class:`MissingCheckpointError` naming the official source."""
    path = Path(path)
    if path.is_file():
        return path
    info = checkpoint_info(model, model_type)
    raise MissingCheckpointError(
        f"checkpoint for --model {model} --model-type {model_type} not found: {path}\n"
        f"  The official file {info.file_name} is published at {info.url}\n"
        f"  Download it into {weights_dir()}/ or pass --checkpoint PATH."
    )
