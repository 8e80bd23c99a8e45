"""Our GeoSeg networks against the reference fixtures in ``tests/fixtures/geoseg_models``.

For every ``<dataset>_<model>.json`` the network built like the config builds it must have the reference's
state_dict (names, shapes, dtypes, order), parameter counts and constructed index buffers, and under the
fixture's deterministic weight rules its eval output must match the recorded summaries within
``|a - b| <= 1e-5 + 1e-4 |b|``. The hash rule is the check that proves numerical equality. The networks carry
rule-made (not trained) weights, or random initial weights in the backward test of fixed-size networks.
SwinUNet's fixture (1024x1024 input) is marked ``slow``.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import geoseg_model_fixtures as gmf
import pytest
import torch

from geoseg.models.input_size import input_rule_of
from rscommon.paths import MissingWeightsError

FIXTURES = gmf.fixture_paths()
BACKWARD_LEAST = 64  # the backward test's side: the smallest the network's input rule takes from here (1/32 map: 2)
FIXED_SIZE_REBUILD = 128  # the side fixed-size networks are rebuilt for in the training-mode tests
LARGE_INPUT = 512


def _fixture_param(path: Path):
    """One fixture file as a parameter; fixtures with large inputs (SwinUNet: 1024) are marked slow."""
    side = gmf.load_fixture(path)["input_shape"][-1]
    return pytest.param(path, id=path.stem, marks=[pytest.mark.slow] if side >= LARGE_INPUT else [])


@pytest.fixture(scope="module", params=[_fixture_param(p) for p in FIXTURES])
def built(request) -> dict[str, Any]:
    """The fixture, our network built from it (once per fixture file) and its constructed buffers."""
    fixture = gmf.load_fixture(request.param)
    model = gmf.build_model(fixture, pretrained=False)
    return {"fixture": fixture, "model": model, "constructed": gmf.constructed_buffers(model), "states": {}}


def _rule_state(built: dict[str, Any], rule_field: str, keep: bool) -> dict[str, torch.Tensor]:
    """The fixture's state_dict under ``rule_field`` (with the constructed buffers kept when ``keep``), built once
    per fixture: computing a rule over every parameter costs more than the network's forward pass."""
    key = (rule_field, keep)
    if key not in built["states"]:
        kept = built["constructed"] if keep else None
        built["states"][key] = gmf.rule_state_dict(built["fixture"], rule_field, kept)
    return built["states"][key]


def _check_eval(built: dict[str, Any], rule_field: str, expected_key: str, keep: bool) -> None:
    fixture, model = built["fixture"], built["model"]
    model.load_state_dict(_rule_state(built, rule_field, keep), strict=True)
    out = gmf.eval_forward(model, gmf.make_input(fixture["input_shape"]))
    assert isinstance(out, torch.Tensor), f"eval output is {type(out).__name__}, expected a single tensor"
    problems = gmf.summary_mismatches(gmf.summarize(out), fixture[expected_key])
    assert not problems, f"{fixture['dataset']}_{fixture['model']} {expected_key}: " + "; ".join(problems)


def test_manifest(built):
    """Same state_dict names, shapes, dtypes and order as the reference."""
    assert gmf.manifest_of(built["model"]) == gmf.expected_manifest(built["fixture"])


def test_param_counts(built):
    """Same parameter count (and trainable count, e.g. DCSwin's frozen stages)."""
    fixture, model = built["fixture"], built["model"]
    assert sum(p.numel() for p in model.parameters()) == fixture["param_count"]
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == fixture["trainable_param_count"]


def test_constructed_buffers(built):
    """relative_position_index / attn_mask buffers computed exactly as the reference computes them."""
    expected = {e["name"]: e["constructed_digest"] for e in built["fixture"]["manifest"] if "constructed_digest" in e}
    assert set(built["constructed"]) == set(expected)
    for name, tensor in built["constructed"].items():
        assert gmf.digest(tensor) == expected[name], name


def test_eval_output_sin_rule(built):
    """Eval output under the sin rule (checks manifest order, weight loading, shape and the last layer)."""
    _check_eval(built, "rule", "eval_output", keep=False)


def test_eval_output_hash_rule(built):
    """Eval output under the full-rank hash rule: the check of numerical equality."""
    _check_eval(built, "hash_rule", "eval_output_hash", keep=True)


def test_eval_output_keep_index_buffers(built):
    """Sin rule with the constructed index buffers kept (Swin-style models); the others construct none."""
    if built["fixture"].get("eval_output_keep_index_buffers") is None:
        assert built["constructed"] == {}, "the reference builds no index buffers for this model"
        return
    _check_eval(built, "rule", "eval_output_keep_index_buffers", keep=True)


def _is_fixed_size(fixture: dict[str, Any]) -> bool:
    """Networks built for one input size (an ``img_size`` argument, e.g. SwinUNet)."""
    return "img_size" in fixture["constructor"]["config_kwargs"]


def _small_rebuild(fixture: dict[str, Any]) -> torch.nn.Module:
    """A fixed-size network rebuilt, randomly initialised, for ``FIXED_SIZE_REBUILD`` px."""
    torch.manual_seed(0)
    return gmf.build_model(fixture, pretrained=False, img_size=FIXED_SIZE_REBUILD)


def _at_side(structure: dict[str, Any], recorded: int, side: int) -> dict[str, Any]:
    """A recorded output structure for an input of ``side`` instead of ``recorded`` px: image sides scaled."""
    if "shape" in structure:
        batch_and_bands, sides = structure["shape"][:2], structure["shape"][2:]
        assert all(s * side % recorded == 0 for s in sides), sides
        return {**structure, "shape": [*batch_and_bands, *(s * side // recorded for s in sides)]}
    if "elements" in structure:
        return {**structure, "elements": [_at_side(e, recorded, side) for e in structure["elements"]]}
    return structure


def test_train_output_structure(built):
    """Training-mode forward on the batch-2 input returns the reference's structure. A fixed-size network is
    rebuilt (randomly initialised) for ``FIXED_SIZE_REBUILD`` px, and the recorded sides scaled to it: its
    output at the recorded 1024 px is checked value by value in eval mode above."""
    fixture = built["fixture"]
    expected = gmf.expected_structure(fixture["train_output_structure"])
    shape = fixture["input_shape"]
    if _is_fixed_size(fixture):
        model = _small_rebuild(fixture)
        expected = _at_side(expected, shape[-1], FIXED_SIZE_REBUILD)
        shape = [*shape[:2], FIXED_SIZE_REBUILD, FIXED_SIZE_REBUILD]
    else:
        model = built["model"]
        model.load_state_dict(_rule_state(built, "rule", keep=False), strict=True)
    model.train()
    torch.manual_seed(0)
    with torch.no_grad():
        out = model(gmf.batch_two(gmf.make_input(shape)))
    model.eval()
    assert gmf.output_structure(out) == expected


def _trainable_small(built: dict[str, Any]) -> tuple[torch.nn.Module, int]:
    """The network for the backward test and its input side.

    Fixed-size networks are rebuilt, randomly initialised, for a 128x128 input; the others reuse the cached
    network with hash-rule weights on the smallest square input from ``BACKWARD_LEAST`` its input rule takes (64
    for most, 128 for FANet, 160 for the UNetFormers).
    """
    fixture = built["fixture"]
    if _is_fixed_size(fixture):
        return _small_rebuild(fixture), FIXED_SIZE_REBUILD
    model = built["model"]
    model.load_state_dict(_rule_state(built, "hash_rule", keep=True), strict=True)
    rule = input_rule_of(model)
    return model, next(side for side in range(BACKWARD_LEAST, 1025, 32) if rule.side_problem(side, side) is None)


def test_forward_backward_small_input(built):
    """Training-mode forward and backward on a small batch-2 input: finite loss and gradients, reaching the stem."""
    model, size = _trainable_small(built)
    num_classes = built["fixture"]["eval_output"]["shape"][1]
    model.train()
    torch.manual_seed(0)
    try:
        out = model(torch.randn(2, 3, size, size))
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        assert all(o.shape == (2, num_classes, size, size) for o in outputs)
        loss = sum(o.square().mean() for o in outputs)
        loss.backward()
        assert torch.isfinite(loss)
        trainable = [p for p in model.parameters() if p.requires_grad]
        with_grad = [p for p in trainable if p.grad is not None]
        assert with_grad, "no parameter received a gradient"
        assert all(torch.isfinite(p.grad).all() for p in with_grad)
        assert len(with_grad) >= 0.9 * len(trainable), f"{len(with_grad)}/{len(trainable)} parameters got gradients"
        assert any(p.grad.abs().sum() > 0 for p in with_grad[:5]), "the earliest trainable layers received no gradient"
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_pretrained_build_stops_on_a_missing_backbone_file_without_network(path, monkeypatch, tmp_path):
    """The paper's recipe starts from ImageNet weights: with an empty weights folder, a pretrained build stops with
    the file's name, the folder and where it is published, and never tries to download it."""
    fixture = gmf.load_fixture(path)

    def no_network(*args, **kwargs):
        raise AssertionError("a network connection was attempted while building the model")

    monkeypatch.setenv("SESSRS_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert gmf.accepts_pretrained(gmf.model_callable(fixture)), "every model takes an explicit pretrained switch"
    with pytest.raises(MissingWeightsError) as refused:
        gmf.build_model(fixture, pretrained=True)
    message = str(refused.value)
    assert str(tmp_path) in message and ".pth" in message and "http" in message
