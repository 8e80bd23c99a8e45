"""Helpers for the GeoSeg model fixtures in ``tests/fixtures/geoseg_models`` (see the README there).

Each fixture ``<dataset>_<model>.json`` describes one reference network: its state_dict manifest, two
deterministic weight rules (the sin rule and the hash rule), the input rule and summaries of the output.
This module rebuilds our network for a fixture, makes the weights and the input from the rules, and
compares output summaries with the fixture's tolerance.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "geoseg_models"
ATOL = 1e-5
RTOL = 1e-4
CONSTRUCTED_BUFFERS = ("relative_position_index", "attn_mask")
_SUMMARY_SCALARS = ("mean", "std", "min", "max")
_U32 = np.uint64(0xFFFFFFFF)


def fixture_paths() -> list[Path]:
    """All fixture files, sorted by name."""
    return sorted(FIXTURE_DIR.glob("*.json"))


def load_fixture(path: Path) -> dict[str, Any]:
    """Read one fixture JSON; its file name ``<dataset>_<model>.json`` is checked against its content."""
    fixture = json.loads(Path(path).read_text())
    if Path(path).stem != f"{fixture['dataset']}_{fixture['model']}":
        raise ValueError(
            f"{path}: file name does not match dataset {fixture['dataset']!r} / model {fixture['model']!r}"
        )
    return fixture


def model_callable(fixture: dict[str, Any]) -> Callable[..., nn.Module]:
    """Our constructor for the fixture: ``geoseg.models.<model>.<constructor callable>``."""
    module = importlib.import_module(f"geoseg.models.{fixture['model']}")
    return getattr(module, fixture["constructor"]["callable"])


def accepts_pretrained(constructor: Callable[..., nn.Module]) -> bool:
    """Whether ``constructor`` takes a ``pretrained`` argument."""
    return "pretrained" in inspect.signature(constructor).parameters


def constructor_kwargs(fixture: dict[str, Any], pretrained: bool = False, **overrides: Any) -> dict[str, Any]:
    """The config's kwargs, with ``pretrained`` set where our callable accepts it, then ``overrides``."""
    kwargs = dict(fixture["constructor"]["config_kwargs"])
    if accepts_pretrained(model_callable(fixture)):
        kwargs["pretrained"] = pretrained
    kwargs.update(overrides)
    return kwargs


def build_model(fixture: dict[str, Any], pretrained: bool = False, **overrides: Any) -> nn.Module:
    """Build our network exactly as the fixture's config line does (without pretrained weights by default)."""
    return model_callable(fixture)(**constructor_kwargs(fixture, pretrained, **overrides))


def is_constructed_buffer(name: str) -> bool:
    """Whether a state_dict entry is a buffer the model code computes (kept by the ``keep`` rule)."""
    return name.rsplit(".", 1)[-1] in CONSTRUCTED_BUFFERS


def constructed_buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the ``relative_position_index`` / ``attn_mask`` buffers as the model computed them."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if is_constructed_buffer(k)}


def manifest_of(model: nn.Module) -> list[tuple[str, list[int], str]]:
    """``(name, shape, dtype)`` of every state_dict entry, in order, in the fixture's notation."""
    return [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()]


def expected_manifest(fixture: dict[str, Any]) -> list[tuple[str, list[int], str]]:
    """The fixture's manifest as ``(name, shape, dtype)`` tuples."""
    return [(e["name"], list(e["shape"]), e["dtype"]) for e in fixture["manifest"]]


def digest(tensor: torch.Tensor) -> dict[str, Any]:
    """sha256 of the little-endian bytes, plus sum, min and max, as in ``constructed_digest``."""
    array = tensor.detach().cpu().contiguous().numpy()
    little_endian = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return {
        "sha256_le_bytes": hashlib.sha256(little_endian.tobytes()).hexdigest(),
        "sum": float(array.astype(np.float64).sum()),
        "min": float(array.min()),
        "max": float(array.max()),
    }


def sin_base(i: int, n: int) -> np.ndarray:
    """``0.02 * sin(0.37 k + 1.3 i)`` for ``k = 0..n-1`` in float64."""
    return 0.02 * np.sin(0.37 * np.arange(n, dtype=np.float64) + 1.3 * i)


def lowbias32(x: np.ndarray) -> np.ndarray:
    """The ``lowbias32`` integer hash on uint32 values (held in uint64, reduced mod 2**32 after products)."""
    x = x.astype(np.uint64)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & _U32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & _U32
    x ^= x >> np.uint64(16)
    return x


def hash_uniform(i: int, n: int) -> np.ndarray:
    """``r_k = sqrt(3) (2 (h_k + 0.5) / 2**32 - 1)``: zero-mean, unit-variance values of entry ``i``."""
    seed = np.uint64((i * 0x9E3779B9) % 2**32)
    k = np.arange(n, dtype=np.uint64)
    h = lowbias32((k + seed) & _U32)
    return np.sqrt(3.0) * (2.0 * (h.astype(np.float64) + 0.5) / 2.0**32 - 1.0)


def _sin_rule_value(rule: str, i: int, n: int, shape: list[int]) -> np.ndarray:
    if rule == "zero_int":
        return np.zeros(n, dtype=np.float64)
    base = sin_base(i, n)
    values = {"base": base, "one_plus_base": 1.0 + base, "one_plus_abs_base": 1.0 + np.abs(base)}
    return values[rule]


def _hash_rule_value(rule: str, i: int, n: int, shape: list[int]) -> np.ndarray:
    if rule == "zero_int":
        return np.zeros(n, dtype=np.float64)
    r = hash_uniform(i, n)
    if rule == "h_fan":
        return r / np.sqrt(n / shape[0])
    values = {"h_0.1": 0.1 * r, "h_one_plus_0.1": 1.0 + 0.1 * r, "h_one_plus_abs_0.1": 1.0 + 0.1 * np.abs(r)}
    return values[rule]


def rule_state_dict(
    fixture: dict[str, Any], rule_field: str, kept: dict[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """State_dict built from the manifest alone under ``rule_field`` (``"rule"`` or ``"hash_rule"``).

    Entries whose rule is ``keep``, and with ``kept`` given also every constructed buffer, take their value
    from ``kept`` (the buffers the model computed at construction). Values are float64 until the final cast.
    """
    kept = kept or {}
    value_of = _sin_rule_value if rule_field == "rule" else _hash_rule_value
    state: dict[str, torch.Tensor] = {}
    for i, entry in enumerate(fixture["manifest"]):
        name, shape, rule = entry["name"], entry["shape"], entry[rule_field]
        if rule == "keep" or name in kept:
            if name not in kept:
                raise KeyError(f"{fixture['model']}: rule 'keep' for {name} but the model has no such buffer")
            state[name] = kept[name].clone()
            continue
        n = int(np.prod(shape, dtype=np.int64))
        values = value_of(rule, i, n, shape).reshape(shape)
        state[name] = torch.from_numpy(values).to(getattr(torch, entry["dtype"]))
    return state


def make_input(shape: Iterable[int]) -> torch.Tensor:
    """``x[0, c, h, w] = sin(0.05 h + 0.11 w + 1.7 c)`` in float64, cast to float32 (batch 1)."""
    _, channels, height, width = shape
    c = np.arange(channels, dtype=np.float64)[:, None, None]
    h = np.arange(height, dtype=np.float64)[None, :, None]
    w = np.arange(width, dtype=np.float64)[None, None, :]
    return torch.from_numpy(np.sin(0.05 * h + 0.11 * w + 1.7 * c)[None]).float()


def batch_two(x: torch.Tensor) -> torch.Tensor:
    """The training-mode input ``cat([x, x.flip(-1)])``."""
    return torch.cat([x, x.flip(-1)], dim=0)


def eval_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The fixture protocol: ``eval()``, ``manual_seed(0)``, ``no_grad`` forward."""
    model.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        return model(x)


def summarize(out: torch.Tensor) -> dict[str, Any]:
    """Shape, float64 8x8 average pool of sample 0, and mean/std (population)/min/max over the output."""
    full = out.detach().double()
    return {
        "shape": list(out.shape),
        "pooled_8x8": F.adaptive_avg_pool2d(full[0:1], (8, 8))[0].cpu().numpy(),
        "mean": full.mean().item(),
        "std": full.std(correction=0).item(),
        "min": full.min().item(),
        "max": full.max().item(),
    }


def summary_mismatches(got: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Differences between ``got`` and a fixture summary under ``|a - b| <= 1e-5 + 1e-4 |b|``."""
    if got["shape"] != list(expected["shape"]):
        return [f"shape {got['shape']} != {expected['shape']}"]
    problems = []
    want = np.asarray(expected["pooled_8x8"], dtype=np.float64)
    diff = np.abs(got["pooled_8x8"] - want)
    bad = diff > ATOL + RTOL * np.abs(want)
    if bad.any():
        problems.append(f"pooled_8x8: {int(bad.sum())}/{bad.size} values off, max |diff| {diff.max():.3g}")
    for key in _SUMMARY_SCALARS:
        a, b = got[key], expected[key]
        if abs(a - b) > ATOL + RTOL * abs(b):
            problems.append(f"{key}: {a:.6g} != {b:.6g}")
    return problems


def output_structure(out: Any) -> dict[str, Any]:
    """Type/length/shape/dtype description of a forward output, in the fixture's notation."""
    if isinstance(out, torch.Tensor):
        return {"type": "Tensor", "shape": list(out.shape), "dtype": str(out.dtype).removeprefix("torch.")}
    if isinstance(out, (tuple, list)):
        return {"type": type(out).__name__, "length": len(out), "elements": [output_structure(o) for o in out]}
    return {"type": type(out).__name__}


def expected_structure(fixture_structure: dict[str, Any]) -> dict[str, Any]:
    """The fixture's recorded structure without its ``protocol`` text."""
    return {k: v for k, v in fixture_structure.items() if k != "protocol"}
