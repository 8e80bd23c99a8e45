"""Every GeoSeg config loads on a machine without the datasets and builds the reference's network.

Each config is loaded once, explicitly without pretrained backbone files (``pretrained=False``: random weights;
no data or weights are read), and compared with its fixture in ``fixtures/geoseg_models``: the net's class, its
state_dict names/shapes, parameter count, and the exact keyword arguments the config's recipe passes to the
constructor. The Urban and Potsdam configs of a model share one recipe and differ only in their dataset.
"""

from __future__ import annotations

import ast
import gc

import pytest
import torch
from geoseg_model_fixtures import fixture_paths, load_fixture
from timm.optim import Lookahead

from geoseg.config import load_config
from geoseg.loaders import LoaderSpec
from geoseg.paths import GEOSEG_ROOT
from geoseg.recipes import MODELS, Recipe
from rscommon.datasets import get_dataset
from rscommon.files import InputError
from rscommon.paths import MissingWeightsError

FIXTURES = fixture_paths()
# Swin-style backbones spend seconds in timm's truncated-normal initialisation.
HEAVY = {"dcswin", "ftunetformer", "segformer", "swinunet"}


@pytest.mark.parametrize(
    "fixture_path",
    [pytest.param(p, marks=pytest.mark.slow) if p.stem.split("_", 1)[1] in HEAVY else p for p in FIXTURES],
    ids=[p.stem for p in FIXTURES],
)
def test_config_builds_the_reference_network_without_data(fixture_path):
    fixture = load_fixture(fixture_path)
    config_path = GEOSEG_ROOT / "config" / fixture["dataset"] / f"{fixture['model']}.py"
    config = load_config(config_path, pretrained=False)
    try:
        assert type(config.net).__name__ == fixture["constructor"]["returned_class"]
        manifest = [(e["name"], e["shape"]) for e in fixture["manifest"]]
        assert [(k, list(v.shape)) for k, v in config.net.state_dict().items()] == manifest
        assert sum(p.numel() for p in config.net.parameters()) == fixture["param_count"]
        assert config.net_kwargs == fixture["constructor"]["config_kwargs"]
        assert MODELS[config.model].constructor.__name__ == fixture["constructor"]["callable"]
        assert config.pretrained is False and config.recipe.pretrained is False

        spec = get_dataset(config.dataset)
        assert (config.classes, config.num_classes, config.ignore_index) == (
            spec.classes,
            spec.num_classes,
            spec.ignore_index,
        )
        assert config.model_name == fixture["model"] and config.monitor == "val_OA"
        assert config.weights_path.endswith(config.weights_name) and config.log_name.startswith(config.dataset)
        assert isinstance(config.train_loader, LoaderSpec) and config.train_loader.train
        assert config.train_dataset._ids is None and config.val_dataset._ids is None  # folders not opened
        assert (config.ce_average, config.lookahead_sync, config.scale_resize) == ("all", "catalyst", "pil")

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


def recipe_call(config_path) -> ast.Call:
    """The ``recipe = <model>(...)`` call of a config file."""
    tree = ast.parse(config_path.read_text())
    calls = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "recipe" for t in node.targets)
    ]
    assert len(calls) == 1 and isinstance(calls[0], ast.Call)
    return calls[0]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_urban_and_potsdam_configs_share_one_recipe_in_a_few_lines(model):
    urban = GEOSEG_ROOT / "config" / "Urban" / f"{model}.py"
    potsdam = GEOSEG_ROOT / "config" / "potsdam" / f"{model}.py"
    for path in (urban, potsdam) if potsdam.exists() else (urban,):
        code = [line for line in path.read_text().split('"""')[-1].splitlines() if line.strip()]
        assert len(code) <= 3, f"{path} has {len(code)} lines of code"
        call = recipe_call(path)
        assert call.func.id == model
        assert [ast.literal_eval(k.value) for k in call.keywords if k.arg == "dataset"] == [path.parent.name]


def test_sample_configs_say_they_start_from_random_weights(monkeypatch):
    monkeypatch.setenv("GEOSEG_SAMPLE_CROP", "96")
    monkeypatch.setenv("GEOSEG_SAMPLE_REPEATS", "2")
    config = load_config(GEOSEG_ROOT / "config" / "sample" / "unetformer.py")  # no pretrained=False needed
    assert config.pretrained is False
    assert type(config.net).__name__ == "UNetFormer" and config.num_classes == 8
    assert len(config.train_dataset) == 6 and len(config.test_dataset) == 3
    assert config.train_dataset[0]["img"].shape == (3, 96, 96)
    assert config.weights_path == "model_weights/sample/unetformer-sample"
    potsdam = load_config(GEOSEG_ROOT / "config" / "sample" / "unetformer_potsdam.py")
    assert potsdam.pretrained is False and potsdam.num_classes == 6 and len(potsdam.test_dataset) == 2


def test_paper_configs_stop_without_their_backbone_file(monkeypatch, tmp_path):
    monkeypatch.setenv("SESSRS_WEIGHTS", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="semi_weakly_supervised_resnet18-118f1556.pth"):
        load_config(GEOSEG_ROOT / "config" / "Urban" / "unetformer.py")


def test_recipe_switches_reach_the_loss_optimizer_and_augmentation():
    recipe = Recipe(
        "abcnet", "potsdam", "x", pretrained=False, ce_average="valid", lookahead_sync="timm", scale_resize="cv2"
    )
    built = recipe.build()
    assert built["loss"].first.average == "valid"
    assert {g["lookahead_step"] for g in built["optimizer"].param_groups} == {0}
    assert "RandomScale" in repr(built["train_dataset"].transform)
    reference = Recipe("abcnet", "potsdam", "x", pretrained=False).build()
    assert reference["loss"].first.average == "all"
    assert {g["lookahead_step"] for g in reference["optimizer"].param_groups} == {4}
    assert "PILRandomScale" in repr(reference["train_dataset"].transform)
    with pytest.raises(ValueError, match="lookahed"):
        recipe.replace(lookahed="timm")


def test_config_without_required_settings_is_rejected(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("net = None\nmax_epoch = 1\n")
    with pytest.raises(ValueError, match="broken.py.*loss"):
        load_config(path)


def test_config_that_does_not_run_is_named_with_its_line(tmp_path):
    syntax = tmp_path / "syntax.py"
    syntax.write_text("max_epoch = 1\nnet = (\n")
    with pytest.raises(InputError, match=r"syntax.py, line \d+: syntax error"):
        load_config(syntax)
    failing = tmp_path / "failing.py"
    failing.write_text("max_epoch = 1\n\nnet = undefined_name\n")
    with pytest.raises(InputError, match="failing.py, line 3: NameError"):
        load_config(failing)
    typo = tmp_path / "typo.py"
    typo.write_text("from geoseg.recipes import abcnet\n\nrecipe = abcnet(dataset='Urban', lookahed='timm')\n")
    with pytest.raises(InputError, match="typo.py, line 3: unknown recipe setting.*lookahed"):
        load_config(typo)
    with pytest.raises(FileNotFoundError, match="missing.py"):
        load_config(tmp_path / "missing.py")
