"""The tune -> scene loop as docs/tuning.md describes it, run by a hurried user: the tuned mode reaches the scene
command, a rerun after relabelling, removing polygons or damaging a file redoes only what changed, and what cannot
work is refused before any area is cut."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scene_files import write_raster
from tune_scene import make_tune_scene, tune_args, write_polygons

from rscommon.files import InputError
from rscommon.limits import MAX_IMAGE_PIXELS_ENV
from rspipeline.scene import SceneRun, prepare
from rspipeline.tune import run_tune
from rspipeline.tune_cli import build_parser, tune_run
from sam_objects import source_recipe
from sessrs import Thresholds, joint
from sessrs.joint_shards import ShardPool
from sessrs.modes import IMPROVED

SIZE, CONTEXT = 160, 12
RECTANGLES = [(8, 10, 60, 75), (100, 85, 150, 150)]


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> dict:
    return make_tune_scene(tmp_path_factory.mktemp("loop"), SIZE, RECTANGLES)


def tune(scene: dict, out: Path, *extra: str, labels: Path | None = None):
    return run_tune(tune_run(build_parser().parse_args(tune_args(scene, out, *extra, labels=labels, context=CONTEXT))))


@pytest.fixture(scope="module")
def tuned(scene, tmp_path_factory) -> Path:
    """A finished tuning in improved mode (copied by each test that changes it)."""
    out = tmp_path_factory.mktemp("tuned") / "out"
    tune(scene, out, "--mode", "improved")
    return out


def copy_of(tuned: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(tuned, out)
    return out


def best(out: Path) -> dict:
    return json.loads((out / "best.json").read_text())


def scene_run(scene: dict, out: Path, **settings) -> SceneRun:
    return SceneRun(
        image=scene["image"],
        thresholds=out / "best.json",
        dataset="Urban",
        out=out.parent / "refined.tif",
        objects=source_recipe("regions"),
        pred=scene["pred_tif"],
        tile=128,
        overlap=16,
        **settings,
    )


def test_the_tuned_mode_is_recorded_and_the_scene_command_applies_it(scene, tuned) -> None:
    record = best(tuned)
    assert (record["dataset"], record["mode"], record["max_objects"]) == ("Urban", "improved", 5)
    plan = prepare(scene_run(scene, tuned))
    assert plan.options == IMPROVED and plan.record["settings"]["options"] == IMPROVED.to_json()
    with pytest.raises(InputError, match="tuned in improved mode, applied in faithful mode; leave --mode out"):
        prepare(scene_run(scene, tuned, mode="faithful"))
    with pytest.raises(InputError, match="tuned with max_objects 5, applied with 7"):
        prepare(scene_run(scene, tuned, max_objects=7))
    with pytest.raises(InputError, match="max_objects must be a whole number of at least 1, got 0"):
        prepare(scene_run(scene, tuned, mode="improved", max_objects=0))


def test_tuned_changes_count_only_the_labelled_pixels(scene, tuned, tmp_path) -> None:
    wider = tmp_path / "wider"
    run_tune(tune_run(build_parser().parse_args(tune_args(scene, wider, "--mode", "improved", context=CONTEXT + 8))))
    assert best(wider)["tuned_changes"] == best(tuned)["tuned_changes"]


def test_the_object_limit_given_to_the_tuning_is_recorded_and_the_scene_command_applies_it(
    scene, tuned, tmp_path
) -> None:
    out = copy_of(tuned, tmp_path)
    tune(scene, out, "--mode", "improved", "--max-objects", "3")
    assert best(out)["max_objects"] == 3 and best(tuned)["max_objects"] == 5
    plan = prepare(scene_run(scene, out))
    assert plan.max_objects == 3 and plan.record["settings"]["max_objects"] == 3


@pytest.mark.slow
def test_the_memory_limit_reaches_the_joint_search_and_another_one_continues_it(scene, tmp_path, monkeypatch) -> None:
    limits = []

    class RecordingPool(ShardPool):
        def __init__(self, *args, **settings) -> None:
            super().__init__(*args, **settings)
            limits.append(self.limit)

    monkeypatch.setattr(joint, "ShardPool", RecordingPool)
    out = tmp_path / "out"
    first = tune(scene, out, "--search", "joint", "--memory-limit", "0.5")
    assert limits == [2**29] and (out / "choice" / "joint_trace.json").is_file()
    kept = out / "choice" / "kept"  # gone if the choice were started over
    kept.touch()
    again = tune(scene, out, "--search", "joint", "--memory-limit", "1")
    assert limits == [2**29, 2**30] and kept.exists() and again.thresholds == first.thresholds


def relabelled(scene: dict, path: Path) -> Path:
    """The scene's polygons with every class of the first rectangle made 'forest'."""
    count = sum(1 for value in scene["values"] if value.isdecimal())  # the first rectangle's, by class id
    return write_polygons(path, scene["geometries"], ["5"] * count + scene["values"][count:])


def test_a_rerun_after_relabelling_redoes_the_choice_as_a_fresh_run(scene, tuned, tmp_path) -> None:
    out = copy_of(tuned, tmp_path)
    labels = relabelled(scene, tmp_path / "relabelled.gpkg")
    again = tune(scene, out, "--mode", "improved", labels=labels)
    fresh = tune(scene, tmp_path / "fresh", "--mode", "improved", labels=labels)
    assert again.made == 0 and again.thresholds == fresh.thresholds
    assert best(out) == best(tmp_path / "fresh") != best(tuned)
    metrics = "choice/metrics.json"
    assert (out / metrics).read_text() == (tmp_path / "fresh" / metrics).read_text()


def test_a_rerun_after_removing_polygons_drops_their_area(scene, tuned, tmp_path) -> None:
    out = copy_of(tuned, tmp_path)
    first = sum(1 for value in scene["values"] if value.isdecimal())
    labels = write_polygons(tmp_path / "fewer.gpkg", scene["geometries"][:first], scene["values"][:first])
    again = tune(scene, out, "--mode", "improved", labels=labels)
    tune(scene, tmp_path / "fresh", "--mode", "improved", labels=labels)
    assert (again.areas, again.made) == (1, 1) and best(out) == best(tmp_path / "fresh")
    assert len(list((out / "areas" / "pred").glob("*.png"))) == 1


@pytest.mark.parametrize(
    "damage", ["edit prediction", "truncate objects", "remove objects", "garble record", "garble sweep record"]
)
def test_a_damaged_area_is_made_again(scene, tuned, tmp_path, damage) -> None:
    out = copy_of(tuned, tmp_path)
    pred = sorted((out / "areas" / "pred").glob("*.png"))[0]
    objects = out / "areas" / "sam" / f"{pred.stem}.json"
    original = {path: path.read_bytes() for path in (pred, objects)}
    if damage == "edit prediction":
        write_raster(tmp_path / "x.tif", np.zeros((1, 4, 4), np.uint8))  # any other bytes
        pred.write_bytes((tmp_path / "x.tif").read_bytes())
    elif damage == "truncate objects":
        objects.write_bytes(original[objects][: len(original[objects]) // 2])
    elif damage == "remove objects":
        objects.unlink()
    elif damage == "garble record":
        (out / "areas" / "areas.json").write_text("{not json")
    else:
        (out / "sweep" / "run.json").write_text("[1, 2]")
    again = tune(scene, out, "--mode", "improved")
    assert again.made == {"garble record": 2, "garble sweep record": 0}.get(damage, 1)
    assert {path: path.read_bytes() for path in original} == original
    assert best(out) == best(tuned)


def test_a_damaged_choice_is_chosen_again(scene, tuned, tmp_path) -> None:
    out = copy_of(tuned, tmp_path)
    (out / "choice" / "best.json").write_text('{"t1": ')
    assert tune(scene, out, "--mode", "improved").thresholds == Thresholds.from_json(best(tuned))
    assert best(out) == best(tuned)


@pytest.mark.parametrize("held_out", [("--select", "cv"), ("--method", "auto")])
def test_more_cv_folds_than_areas_are_refused_before_an_area_is_cut(scene, tmp_path, held_out) -> None:
    with pytest.raises(InputError, match="--folds 5 needs at least as many labelled areas, found 2; give --folds 2"):
        tune(scene, tmp_path / "out", *held_out, "--folds", "5")
    assert not (tmp_path / "out" / "areas").exists()


def test_an_area_larger_than_one_image_is_refused_before_it_is_cut(scene, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(MAX_IMAGE_PIXELS_ENV, str(70 * 80))
    with pytest.raises(InputError, match=r"make an area of 87 x 72 pixels with --context 12, more than one image"):
        tune(scene, tmp_path / "out")
    assert not (tmp_path / "out" / "areas").exists()


def test_a_class_value_of_digit_characters_is_refused_in_one_line(scene, tmp_path) -> None:
    labels = write_polygons(tmp_path / "odd.gpkg", scene["geometries"][:1], ["²"])
    with pytest.raises(InputError, match=r"class values \['²'\] in field 'class' are not Urban classes"):
        tune(scene, tmp_path / "out", labels=labels)


def test_polygons_with_a_crs_on_a_scene_without_one_are_refused(scene, tmp_path) -> None:
    rgb = scene["rgb"].transpose(2, 0, 1)
    image = write_raster(tmp_path / "plain.tif", rgb, crs=None)
    with pytest.raises(InputError, match="the polygons are in EPSG:32633 but the scene has no CRS"):
        tune(
            {**scene, "image": image, "pred_tif": write_raster(tmp_path / "p.tif", scene["pred"][None], crs=None)},
            tmp_path / "out",
        )


def test_a_garbage_checkpoint_is_refused_before_an_area_is_cut(scene, tmp_path) -> None:
    garbage = tmp_path / "sam_vit_b_01ec64.pth"
    garbage.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(InputError, match="not a PyTorch checkpoint"):
        tune(scene, tmp_path / "out", "--objects", "sam", "--model-type", "vit_b", "--checkpoint", str(garbage))
    assert not (tmp_path / "out" / "areas").exists()
