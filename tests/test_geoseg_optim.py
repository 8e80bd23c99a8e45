"""The optimiser recipe: parameter groups as catalyst's process_model_params, Lookahead(k=5, alpha=0.5)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from geoseg.optim import param_groups, reference_optimizer


class TinyNet(nn.Module):
    """A stand-in network with a ``backbone`` and a head (random weights, plumbing only)."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.head = nn.Conv2d(4, 2, 1)


def options_by_name(net: nn.Module, groups: list[dict]) -> dict[str, dict]:
    names = {id(p): n for n, p in net.named_parameters()}
    found = {}
    for group in groups:
        for param in group["params"]:
            assert names[id(param)] not in found, "a parameter is in two groups"
            found[names[id(param)]] = {k: v for k, v in group.items() if k != "params"}
    return found


def test_param_groups_follow_layerwise_patterns_and_skip_bias_decay():
    net = TinyNet()
    adamw = reference_optimizer(net, lr=1e-4, weight_decay=5e-4, backbone_lr=1e-5, backbone_weight_decay=5e-4,
                                lookahead=False)
    found = options_by_name(net, adamw.param_groups)
    assert set(found) == {n for n, _ in net.named_parameters()}
    for name, options in found.items():
        assert options["lr"] == (1e-5 if name.startswith("backbone.") else 1e-4)
        assert options["weight_decay"] == (0.0 if name.endswith("bias") else 5e-4)
    # Norm weights keep their decay, as in the reference (only names ending in "bias" are exempt).
    assert found["backbone.1.weight"]["weight_decay"] == 5e-4


def test_later_patterns_override_earlier_ones():
    net = TinyNet()
    groups = param_groups(net, {"backbone.*": {"lr": 1.0}, r"backbone\.1\..*": {"lr": 2.0}}, no_bias_decay=False)
    found = options_by_name(net, groups)
    assert found["backbone.0.weight"] == {"lr": 1.0}
    assert found["backbone.1.bias"] == {"lr": 2.0}
    assert found["head.weight"] == {}


def lookahead_trajectory(steps: int, lr: float, k: int, alpha: float) -> list[float]:
    """Lookahead on f(p) = p with steps of ``lr`` (what Adam does for a constant gradient): the first sync
    takes the slow weights, later ones interpolate."""
    fast, slow, values = 0.0, None, []
    for step in range(1, steps + 1):
        fast -= lr
        if step % k == 0:
            slow = fast if slow is None else slow + alpha * (fast - slow)
            fast = slow
        values.append(fast)
    return values


def test_lookahead_pulls_fast_weights_back_every_five_steps():
    param = nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = reference_optimizer(nn.ParameterList([param]), lr=0.1, weight_decay=0.0, backbone_lr=None)
    assert [(g["lookahead_k"], g["lookahead_alpha"]) for g in optimizer.param_groups] == [(5, 0.5)]
    values = []
    for _ in range(15):
        optimizer.zero_grad()
        param.sum().backward()
        optimizer.step()
        values.append(param.item())
    assert values == pytest.approx(lookahead_trajectory(15, 0.1, k=5, alpha=0.5), abs=1e-6)


def test_lookahead_state_survives_a_checkpoint_round_trip():
    net = TinyNet()
    optimizer = reference_optimizer(net)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=15, T_mult=2)
    for _ in range(6):
        optimizer.zero_grad()
        net.head(net.backbone(torch.randn(2, 3, 6, 6))).mean().backward()
        optimizer.step()
        scheduler.step()
    restored = reference_optimizer(net)
    restored.load_state_dict(optimizer.state_dict())
    assert [g["lookahead_step"] for g in restored.param_groups] == [6] * len(optimizer.param_groups)
    assert [g["lr"] for g in restored.param_groups] == [g["lr"] for g in optimizer.param_groups]
