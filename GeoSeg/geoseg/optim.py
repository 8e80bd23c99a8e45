"""The reference's optimiser recipe: per-layer options, no decay on biases, AdamW inside Lookahead."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from timm.optim import Lookahead
from torch import nn

from rscommon.files import InputError

BACKBONE_PATTERN = "backbone.*"
LOOKAHEAD_K, LOOKAHEAD_ALPHA = 5, 0.5
# When Lookahead first takes its slow weights: after step 1 then every k steps (catalyst's Lookahead, which the
# reference uses), or after step k then every k steps (timm's own phase).
LOOKAHEAD_SYNCS = ("catalyst", "timm")


def param_groups(
    net: nn.Module, layerwise: Mapping[str, Mapping[str, Any]] | None = None, no_bias_decay: bool = True
) -> list[dict[str, Any]]:
    """Optimizer parameter groups with catalyst's ``process_model_params`` semantics.

    Every pattern of ``layerwise`` that ``re.match``-es a parameter name (in order, later ones on top) sets
    its options; names ending in ``bias`` get ``weight_decay=0``. Parameters with equal options share a
    group (in first-seen order), which leaves the optimisation unchanged.
    """
    groups: dict[tuple, dict[str, Any]] = {}
    for name, param in net.named_parameters():
        options: dict[str, Any] = {}
        for pattern, pattern_options in (layerwise or {}).items():
            if re.match(pattern, name):
                options.update(pattern_options)
        if no_bias_decay and name.endswith("bias"):
            options["weight_decay"] = 0.0
        key = tuple(sorted(options.items()))
        groups.setdefault(key, {"params": [], **options})["params"].append(param)
    return list(groups.values())


def reference_optimizer(
    net: nn.Module,
    lr: float = 1e-4,
    weight_decay: float = 5e-4,
    backbone_lr: float | None = 1e-5,
    backbone_weight_decay: float = 5e-4,
    lookahead: bool = True,
    lookahead_sync: str = "catalyst",
) -> torch.optim.Optimizer:
    """AdamW (backbone parameters at ``backbone_lr``, no decay on biases) wrapped in Lookahead(k=5, alpha=0.5).

    ``backbone_lr=None`` treats the backbone like the rest (SwinUNet's config); ``lookahead=False`` returns
    the bare AdamW. ``lookahead_sync`` sets the slow-weight phase (see :func:`with_lookahead`).
    """
    layerwise = None
    if backbone_lr is not None:
        layerwise = {BACKBONE_PATTERN: {"lr": backbone_lr, "weight_decay": backbone_weight_decay}}
    adamw = torch.optim.AdamW(param_groups(net, layerwise), lr=lr, weight_decay=weight_decay)
    return with_lookahead(adamw, lookahead_sync) if lookahead else adamw


def with_lookahead(
    optimizer: torch.optim.Optimizer, sync: str = "catalyst", k: int = LOOKAHEAD_K, alpha: float = LOOKAHEAD_ALPHA
) -> Lookahead:
    """timm's Lookahead around ``optimizer``, its slow weights taken in the phase ``sync`` names.

    ``"catalyst"`` (the reference's catalyst Lookahead): the slow weights are taken after step 1 and the fast
    weights pulled halfway back after steps 1 + k, 1 + 2k, ...; ``"timm"``: taken after step k, pulled back
    after 2k, 3k, .... The phase is kept in each group's ``lookahead_step``, so it survives a checkpoint. (timm
    skips parameters without a gradient at a sync where catalyst syncs them too; this matters only for a
    parameter that has a gradient at some steps and none at others, which the paper's models do not have.)
    """
    if sync not in LOOKAHEAD_SYNCS:
        raise InputError(f"unknown Lookahead sync {sync!r}; choose one of {', '.join(LOOKAHEAD_SYNCS)}")
    wrapped = Lookahead(optimizer, alpha=alpha, k=k)
    if sync == "catalyst":
        for group in wrapped.param_groups:
            group["lookahead_step"] = k - 1  # timm syncs when the count reaches a multiple of k: after step 1
    return wrapped
