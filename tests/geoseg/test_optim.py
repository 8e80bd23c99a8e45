"""The optimiser recipe: parameter groups as catalyst's process_model_params, Lookahead(k=5, alpha=0.5) in the
reference's (catalyst's) slow-weight phase, checked against a small re-implementation of catalyst's Lookahead."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from timm.optim import Lookahead
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
    adamw = reference_optimizer(
        net, lr=1e-4, weight_decay=5e-4, backbone_lr=1e-5, backbone_weight_decay=5e-4, lookahead=False
    )
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


class CatalystLookahead:
    """catalyst's Lookahead (the reference's), re-implemented from its documented algorithm: after each inner step,
    when the group counter is 0 the slow weights (created from the fast ones on first use) move ``alpha`` of the
    way to the fast weights and the fast weights take them; the counter then counts up to ``k`` and wraps to 0."""

    def __init__(self, optimizer: torch.optim.Optimizer, k: int = 5, alpha: float = 0.5):
        self.optimizer, self.k, self.alpha, self.counter, self.slow = optimizer, k, alpha, 0, {}

    def step(self) -> None:
        self.optimizer.step()
        if self.counter == 0:
            for group in self.optimizer.param_groups:
                for fast in group["params"]:
                    slow = self.slow.setdefault(fast, fast.detach().clone())
                    slow += (fast.detach() - slow) * self.alpha
                    fast.data.copy_(slow)
        self.counter = (self.counter + 1) % self.k


def trajectory(step, param: nn.Parameter, steps: int = 17) -> list[list[float]]:
    """Parameter values after each step on a fixed sequence of random quadratic losses."""
    generator = torch.Generator().manual_seed(5)
    values = []
    for _ in range(steps):
        target = torch.randn(param.shape, generator=generator, dtype=torch.float64)
        param.grad = None
        ((param - target) ** 2).sum().backward()
        step()
        values.append(param.detach().clone().tolist())
    return values


def test_lookahead_follows_catalysts_phase_by_default():
    ours = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    optimizer = reference_optimizer(nn.ParameterList([ours]), lr=0.1, weight_decay=0.01, backbone_lr=None)
    assert [(g["lookahead_k"], g["lookahead_alpha"]) for g in optimizer.param_groups] == [(5, 0.5)]
    reference = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    catalyst = CatalystLookahead(torch.optim.AdamW([reference], lr=0.1, weight_decay=0.01))
    ours_values = trajectory(optimizer.step, ours)
    reference_values = trajectory(catalyst.step, reference)
    np.testing.assert_allclose(ours_values, reference_values, rtol=0, atol=1e-12)
    plain = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    plain_values = trajectory(torch.optim.AdamW([plain], lr=0.1, weight_decay=0.01).step, plain)
    assert ours_values[:5] == plain_values[:5] and ours_values[5] != plain_values[5], "first pull-back after step 6"


def test_lookahead_timm_phase_is_the_documented_switch():
    ours = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    optimizer = reference_optimizer(
        nn.ParameterList([ours]), lr=0.1, weight_decay=0.01, backbone_lr=None, lookahead_sync="timm"
    )
    timm_own = nn.Parameter(torch.zeros(3, dtype=torch.float64))
    timm_optimizer = Lookahead(torch.optim.AdamW([timm_own], lr=0.1, weight_decay=0.01), alpha=0.5, k=5)
    assert trajectory(optimizer.step, ours) == trajectory(timm_optimizer.step, timm_own)
    with pytest.raises(ValueError, match="catalyst"):
        reference_optimizer(nn.ParameterList([ours]), lookahead_sync="paper")


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
    assert [g["lookahead_step"] for g in restored.param_groups] == [4 + 6] * len(optimizer.param_groups)
    assert [g["lr"] for g in restored.param_groups] == [g["lr"] for g in optimizer.param_groups]
