"""The one table of object sources and the surface other floors use: build a source by name, run it on a tile in
memory, send it to another process as its recipe."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from image_files import pixels

from rscommon.objects import encode_object, validate_objects
from sam_objects import SOURCES, build_object_source, source_recipe
from sam_objects.cli import build_parser
from sam_objects.registry import (
    DEFAULT_MODEL_TYPE,
    SOURCE_NAMES,
    ObjectSource,
    SourceRecipe,
    rebuilt_source,
    settings_for,
)

TILE = Path(__file__).resolve().parents[2] / "data/real_samples/potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png"


def test_every_source_is_complete_and_the_old_tables_are_views_of_it() -> None:
    assert list(SOURCES) == ["sam", "samhq", "ssam", "sam2", "regions"]
    for name, spec in SOURCES.items():
        assert spec.name == name and spec.label and spec.settings == settings_for(name)
        if spec.checkpoints:
            assert spec.default_model_type in spec.checkpoints
            assert all(
                info.url.startswith("https://") and info.url.endswith("/" + info.file_name)
                for info in spec.checkpoints.values()
            )
        else:
            assert spec.default_model_type is None
    assert SOURCE_NAMES == {name: spec.label for name, spec in SOURCES.items()}
    assert DEFAULT_MODEL_TYPE == {"sam": "vit_h", "samhq": "vit_h", "ssam": "swinl", "sam2": "large"}
    model_choices = next(action.choices for action in build_parser("sam")._actions if action.dest == "model")
    assert list(model_choices) == list(SOURCES)


def test_a_source_by_name_gives_valid_records_for_a_tile_in_memory() -> None:
    tile = pixels(TILE, "RGB")[:200, :300]
    source = build_object_source("regions", method="slic", n_segments=50)
    records = source(tile)
    assert source.recipe == source_recipe("regions", method="slic", n_segments=50)
    assert len(records) > 5 and validate_objects(records, "in memory", shape=(200, 300)) == records


def test_a_source_travels_as_its_recipe_and_is_built_once_per_process() -> None:
    source = build_object_source("regions")
    copy = pickle.loads(pickle.dumps(source))
    assert isinstance(copy, ObjectSource) and copy.recipe == source.recipe
    assert pickle.loads(pickle.dumps(source)) is copy is rebuilt_source(source.recipe)
    tile = pixels(TILE, "RGB")[:128, :128]
    assert copy(tile) == source(tile)


def test_randomly_initialised_weights_do_not_travel() -> None:
    recipe = SourceRecipe("samhq", settings_for("samhq"), "vit_tiny", checkpoint=None)
    with pytest.raises(ValueError, match="randomly initialised"):
        pickle.dumps(ObjectSource(recipe, lambda image: []))


def test_recipe_choices_are_checked_without_building() -> None:
    with pytest.raises(ValueError, match="unknown object source 'sam9'"):
        source_recipe("sam9")
    with pytest.raises(ValueError, match="uses no weights"):
        source_recipe("regions", model_type="vit_b")
    with pytest.raises(ValueError, match="has no model type 'vit_tiny'"):
        source_recipe("sam", model_type="vit_tiny")
    with pytest.raises(ValueError, match="--levels not used by --model samhq"):
        source_recipe("samhq", levels=(3,))
    recipe = source_recipe("samhq", device="cpu")
    assert recipe.model_type == "vit_h" and recipe.checkpoint.name == "sam_hq_vit_h.pth"
    with pytest.raises(FileNotFoundError, match="huggingface.co/lkeab/hq-sam"):
        SourceRecipe("samhq", recipe.settings, "vit_h", Path("/nowhere/sam_hq_vit_h.pth")).check()


def test_a_source_returning_a_mask_of_another_size_is_an_error() -> None:
    recipe = source_recipe("regions")
    wrong = ObjectSource(recipe, lambda image: [encode_object(np.ones((8, 8), bool))])
    with pytest.raises(ValueError, match=r"returned a \[8, 8\] mask for a \[16, 16\] image"):
        wrong(np.zeros((16, 16, 3), np.uint8))
