"""Every GeoSeg config loads on a machine without the datasets and builds the reference's network.

Each config is loaded once (random weights; no data or weights are read) and compared with its fixture
in ``fixtures/geoseg_models``: the net's class, its state_dict names/shapes, parameter count, and the exact
keyword arguments the config passes to the constructor.
"""
from __future__ import annotations

import ast
import gc
import warnings

import pytest
import torch
from geoseg_model_fixtures import fixture_paths, load_fixture
from timm.optim import Lookahead

from geoseg.config import load_config
from geoseg.paths import GEOSEG_ROOT
from geoseg.recipe import LoaderSpec
from rscommon.datasets import get_dataset

FIXTURES = fixture_paths()
# Swin-style backbones spend seconds in timm's truncated-normal initialisation.
HEAVY = {"dcswin", "ftunetformer", "segformer", "swinunet"}


def constructor_keywords(config_path, namespace: dict) -> dict:
    """The keyword arguments of the config's ``net = ...(...)`` call, evaluated in the config's namespace."""
    tree = ast.parse(config_path.read_text())
    calls = [
        node.value for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "net" for t in node.targets)
    ]
    assert len(calls) == 1 and isinstance(calls[0], ast.Call)
    return {kw.arg: eval(compile(ast.Expression(kw.value), str(config_path), "eval"), dict(namespace))
            for kw in calls[0].keywords}


@pytest.mark.parametrize("fixture_path", [
    pytest.param(p, marks=pytest.mark.slow) if p.stem.split("_", 1)[1] in HEAVY else p for p in FIXTURES
], ids=[p.stem for p in FIXTURES])
def test_config_builds_the_reference_network_without_data(fixture_path):
    fixture = load_fixture(fixture_path)
    config_path = GEOSEG_ROOT / "config" / fixture["dataset"] / f"{fixture['model']}.py"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing pretrained backbone files
        config = load_config(config_path)
    try:
        assert type(config.net).__name__ == fixture["constructor"]["returned_class"]
        manifest = [(e["name"], e["shape"]) for e in fixture["manifest"]]
        assert [(k, list(v.shape)) for k, v in config.net.state_dict().items()] == manifest
        assert sum(p.numel() for p in config.net.parameters()) == fixture["param_count"]
        assert constructor_keywords(config_path, vars(config)) == fixture["constructor"]["config_kwargs"]

        spec = get_dataset(config.dataset)
        assert (config.classes, config.num_classes, config.ignore_index) == (
            spec.classes, spec.num_classes, spec.ignore_index)
        assert config.model_name == fixture["model"] and config.monitor == "val_OA"
        assert config.weights_path.endswith(config.weights_name) and config.log_name.startswith(config.dataset)
        assert isinstance(config.train_loader, LoaderSpec) and config.train_loader.train
        assert config.train_dataset._ids is None and config.val_dataset._ids is None  # folders not opened

        if fixture["model"] == "swinunet":
            assert isinstance(config.optimizer, torch.optim.AdamW)
        else:
            assert isinstance(config.optimizer, Lookahead)
            backbone = {id(p) for n, p in config.net.named_parameters() if n.startswith("backbone.")}
            for group in config.optimizer.param_groups:
                in_backbone = {id(p) in backbone for p in group["params"]}
                assert len(in_backbone) == 1
                assert group["lr"] == (config.backbone_lr if in_backbone.pop() else config.lr)
        assert isinstance(config.lr_scheduler, torch.optim.lr_scheduler.CosineAnnealingWarmRestarts)
    finally:
        del config
        gc.collect()


def test_sample_config_reads_the_embedded_tiles(monkeypatch):
    monkeypatch.setenv("GEOSEG_SAMPLE_CROP", "96")
    monkeypatch.setenv("GEOSEG_SAMPLE_REPEATS", "2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = load_config(GEOSEG_ROOT / "config" / "sample" / "unetformer.py")
    assert type(config.net).__name__ == "UNetFormer" and config.num_classes == 8
    assert len(config.train_dataset) == 6 and len(config.test_dataset) == 3
    assert config.train_dataset[0]["img"].shape == (3, 96, 96)


def test_config_without_required_settings_is_rejected(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("net = None\nmax_epoch = 1\n")
    with pytest.raises(ValueError, match="broken.py.*loss"):
        load_config(path)
