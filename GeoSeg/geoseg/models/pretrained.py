"""Load ImageNet-pretrained backbone weights from ``weights/`` without ever downloading them.

The paper's recipe starts every encoder from its ImageNet weights, so a missing file stops model building with
:class:`~rscommon.paths.MissingWeightsError` naming the file and where it is published. Build with
``pretrained=False`` to start from random weights on purpose (the sample configs and the tests do).
"""

from __future__ import annotations

import torch
from torch import nn

from rscommon.paths import require_weights


def load_pretrained_backbone(
    module: nn.Module, file_name: str, source: str, *, strict: bool = False, key: str | None = None
) -> None:
    """Load ``weights/<file_name>`` into ``module`` (tensors only).

    ``source`` says where the file is officially published (named when it is missing). ``key`` selects a
    sub-dictionary of the checkpoint (for example ``"state_dict"`` or ``"model"``).
    """
    path = require_weights(file_name, source)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if key is not None and key in state:
        state = state[key]
    missing, unexpected = module.load_state_dict(state, strict=strict)
    if strict is False and len(missing) == len(module.state_dict()):
        raise ValueError(f"{path}: none of its {len(state)} entries match {type(module).__name__}")
