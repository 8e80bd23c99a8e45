"""Tuning from labelled areas (pipeline/sessrs_tune.py) on a generated Urban GeoTIFF with polygons labelled from its
ground truth: the same thresholds as a sweep and pick on the same windows cut by hand, resumption, and bad labels
refused in one line naming the file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import get_best_t1_t2
import numpy as np
import pytest
import rasterio
from scene_files import CRS, TRANSFORM, write_raster
from shapely.geometry import shape
from tune_scene import CONTEXT, RECTANGLES, SIZE, make_tune_scene, tune_args, write_polygons

from rscommon.cli import run_main
from rscommon.datasets import URBAN
from rscommon.files import InputError
from rscommon.labels import write_label_png
from rspipeline.tune import run_tune
from rspipeline.tune_cli import build_parser, main, tune_run
from rspipeline.tune_folder import TuneFolder
from sam_objects import build_object_source
from sessrs import ChoiceSettings, Thresholds
from sessrs.inputs import pair_inputs
from sessrs.modes import IMPROVED
from sessrs.pick import pick_thresholds
from sessrs.sweep import run_sweep


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> dict:
    return make_tune_scene(tmp_path_factory.mktemp("tune"))


def by_hand(scene: dict, folder: Path) -> Thresholds:
    """The same areas cut by hand (window = rectangle and context, ground truth inside the rectangle only), swept
    and picked."""
    objects = build_object_source("regions")
    for number, (top, left, bottom, right) in enumerate(RECTANGLES):
        rows = slice(max(top - CONTEXT, 0), min(bottom + CONTEXT, SIZE))
        cols = slice(max(left - CONTEXT, 0), min(right + CONTEXT, SIZE))
        truth = np.full((SIZE, SIZE), 255, np.uint8)
        truth[top:bottom, left:right] = scene["gt"][top:bottom, left:right]
        for kind in ("pred", "sam", "gt"):
            (folder / kind).mkdir(parents=True, exist_ok=True)
        write_label_png(folder / "pred" / f"a{number}.png", scene["pred"][rows, cols], URBAN)
        write_label_png(folder / "gt" / f"a{number}.png", truth[rows, cols], URBAN)
        (folder / "sam" / f"a{number}.json").write_text(
            json.dumps(objects(np.ascontiguousarray(scene["rgb"][rows, cols])))
        )
    samples = pair_inputs(folder / "pred", folder / "sam", folder / "gt")
    return pick_thresholds(run_sweep(samples, URBAN, folder / "sweep"), URBAN)


def test_tuning_gives_the_thresholds_of_a_sweep_and_pick_of_the_same_windows(scene, tmp_path: Path, capsys) -> None:
    out = tmp_path / "tuned"
    assert run_main(main, tune_args(scene, out)) == 0
    best = json.loads((out / "best.json").read_text())
    folder = TuneFolder(out.resolve())
    assert json.loads(folder.best.read_text()) == best == json.loads(folder.choice.best.read_text())
    assert folder.record.is_file() and folder.sweep.sweep.is_file()
    # The QGIS plugin reads the path of the thresholds from this line.
    written = rf"^2 labelled areas \(.*\) -> {re.escape(str(folder.best))}$"
    assert any(re.match(written, line) for line in capsys.readouterr().out.splitlines())
    assert Thresholds.from_json(best) == by_hand(scene, tmp_path / "hand")
    assert Thresholds.from_json(best).modify  # the pick refines something on these areas
    assert len(best["tuned_on"]) == 2 and set(best["tuned_changes"]) == set(URBAN.classes)
    names = sorted(path.stem for path in (out / "areas" / "gt").glob("*.png"))
    assert names == [
        f"area_r{max(top - CONTEXT, 0)}_c{max(left - CONTEXT, 0)}_"
        f"{min(bottom + CONTEXT, SIZE) - max(top - CONTEXT, 0)}x{min(right + CONTEXT, SIZE) - max(left - CONTEXT, 0)}"
        for top, left, bottom, right in RECTANGLES
    ]


def test_a_rerun_keeps_the_areas_and_a_new_polygon_adds_one(scene, tmp_path: Path) -> None:
    out = tmp_path / "tuned"
    first = run_tune(tune_run(build_parser().parse_args(tune_args(scene, out))))
    again = run_tune(tune_run(build_parser().parse_args(tune_args(scene, out))))
    assert (first.areas, first.made, again.made) == (2, 2, 0)
    assert again.thresholds == first.thresholds
    square = shape(
        {
            "type": "Polygon",
            "coordinates": [[(TRANSFORM @ xy) for xy in [(20, 250), (60, 250), (60, 290), (20, 290), (20, 250)]]],
        }
    )
    labels = write_polygons(tmp_path / "more.gpkg", [*scene["geometries"], square], [*scene["values"], "forest"])
    more = run_tune(tune_run(build_parser().parse_args(tune_args(scene, out, labels=labels))))
    assert (more.areas, more.made) == (3, 1)


def test_the_objects_of_the_registry_are_accepted(scene, tmp_path: Path) -> None:
    args = build_parser().parse_args(tune_args(scene, tmp_path / "t", "--objects", "sam2"))
    assert args.objects == "sam2"


def test_the_choice_options_are_those_of_get_best_t1_t2(scene, tmp_path: Path) -> None:
    choice = ["-t", "all", "--search", "joint", "--memory-limit", "0.5", "--max-objects", "3", "--mode", "improved"]
    choice += ["--method", "auto", "--folds", "3", "--seed", "2"]
    run = tune_run(build_parser().parse_args(tune_args(scene, tmp_path / "t", *choice)))
    expected = ChoiceSettings(
        search="joint",
        threshold_mode="all",
        max_objects=3,
        options=IMPROVED,
        folds=3,
        seed=2,
        memory_limit=2**29,
        method="auto",
    )
    assert run.choice == get_best_t1_t2.parse_args(["-d", "Urban", *choice]).choice == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"field": "kind"}, "has no field 'class'"),
        ({"values": "swamp"}, r"class values \['swamp'\] in field 'class' are not Urban classes"),
        ({"shift": 10_000.0}, "2 of 2 polygons lie outside the scene"),
    ],
)
def test_bad_polygons_are_refused_naming_the_file(scene, tmp_path: Path, change: dict, message: str) -> None:
    import shapely

    squares = [
        shapely.box(*(TRANSFORM @ (10, 10)), *(TRANSFORM @ (30, 30))),
        shapely.box(*(TRANSFORM @ (100, 100)), *(TRANSFORM @ (130, 120))),
    ]
    squares = [shapely.affinity.translate(g, change.get("shift", 0.0), 0) for g in squares]
    labels = write_polygons(
        tmp_path / "bad.gpkg", squares, [change.get("values", "1")] * 2, field=change.get("field", "class")
    )
    with pytest.raises(InputError, match=message) as error:
        run_tune(tune_run(build_parser().parse_args(tune_args(scene, tmp_path / "out", labels=labels))))
    assert str(labels) in str(error.value)
    assert not (tmp_path / "out" / "best.json").exists()


def test_a_label_raster_without_a_labelled_pixel_is_refused(scene, tmp_path: Path) -> None:
    labels = write_raster(tmp_path / "labels.tif", np.full((1, SIZE, SIZE), 255, np.uint8))
    with pytest.raises(InputError, match="no labelled pixel"):
        run_tune(tune_run(build_parser().parse_args(tune_args(scene, tmp_path / "out", labels=labels))))


def test_a_label_raster_gives_the_same_thresholds_as_its_polygons(scene, tmp_path: Path) -> None:
    raster = np.full((SIZE, SIZE), 255, np.uint8)
    for top, left, bottom, right in RECTANGLES:
        raster[top:bottom, left:right] = scene["gt"][top:bottom, left:right]
    labels = write_raster(tmp_path / "labels.tif", raster[None])
    tuned = run_tune(tune_run(build_parser().parse_args(tune_args(scene, tmp_path / "out", labels=labels))))
    polygons = run_tune(tune_run(build_parser().parse_args(tune_args(scene, tmp_path / "poly"))))
    assert tuned.areas == 2 and tuned.thresholds == polygons.thresholds
    with rasterio.open(labels) as dataset:
        assert dataset.crs == rasterio.crs.CRS.from_string(CRS)
