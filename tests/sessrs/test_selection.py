"""The cv selection keeps a class of the per-class pick only when its gain holds out on other images, and best.json
records what the chosen thresholds change on the tune images."""

import json
import shutil

import get_best_t1_t2
import numpy as np
import pytest

from rscommon.datasets import URBAN
from rscommon.files import InputError
from rscommon.labels import write_label_png
from rscommon.objects import encode_object
from sessrs.choose import ChoiceSettings, choose_and_apply
from sessrs.folders import ChoiceFolder
from sessrs.inputs import pair_inputs
from sessrs.sweep import run_sweep
from sessrs.thresholds import Thresholds

BUILDING, ROAD = 1, 2
SIZE = 48


def square(top: int, side: int) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), bool)
    mask[top : top + side, top : top + side] = True
    return mask


def scene(road_side: int, road_in_truth: bool) -> tuple[np.ndarray, list[dict], np.ndarray]:
    """A predicted building and road, each a square inside a SAM object one tenth wider. The truth follows the
    building's object (refining buildings always helps); it follows the road's object only when asked."""
    pred = np.zeros((SIZE, SIZE), np.uint8)
    building, building_object = square(2, 10), square(2, 11)
    road, road_object = square(14, road_side), square(14, road_side + road_side // 10)
    pred[building], pred[road] = BUILDING, ROAD
    gt = pred.copy()
    gt[building_object] = BUILDING
    if road_in_truth:
        gt[road_object] = ROAD
    return pred, [encode_object(building_object), encode_object(road_object)], gt


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """Six scenes: refining roads helps a lot on one (a big road) and hurts a little on the five others, so the
    sweep over all six picks roads; buildings help everywhere. Swept for buildings and roads."""
    root = tmp_path_factory.mktemp("cv")
    for kind in ("pred", "sam", "gt"):
        (root / kind).mkdir()
    for index in range(6):
        pred, objects, gt = scene(30, True) if index == 0 else scene(10, False)
        write_label_png(root / "pred" / f"s{index}.png", pred, URBAN)
        write_label_png(root / "gt" / f"s{index}.png", gt, URBAN)
        (root / "sam" / f"s{index}.json").write_text(json.dumps(objects))
    samples = pair_inputs(root / "pred", root / "sam", root / "gt")
    run_sweep(samples, URBAN, root / "sweep", classes=[BUILDING, ROAD])
    return root, samples


def test_cv_drops_a_class_whose_gain_comes_from_one_image_and_keeps_a_real_one(swept, tmp_path):
    root, samples = swept
    pick = choose_and_apply(root / "sweep" / "sweep.json", samples, samples, URBAN, ChoiceFolder(tmp_path / "pick"))
    assert pick.thresholds.modify == (BUILDING, ROAD)
    folder = ChoiceFolder(tmp_path / "cv")
    settings = ChoiceSettings(select="cv", folds=3, seed=4)
    chosen = choose_and_apply(root / "sweep" / "sweep.json", samples, samples, URBAN, folder, settings=settings)
    assert chosen.thresholds == Thresholds(t1=pick.thresholds.t1, t2=pick.thresholds.t2, modify=[BUILDING])
    record = json.loads(folder.selection.read_text())
    assert record == chosen.selection
    assert (record["pick_modify"], record["modify"]) == ([BUILDING, ROAD], [BUILDING])
    assert sorted(stem for group in record["fold_images"] for stem in group) == [s.stem for s in samples]
    road, building = record["classes"]["road"], record["classes"]["building"]
    (big,) = [fold for fold, group in enumerate(record["fold_images"]) if "s0" in group]
    # Without the big road to tune on, the fold's pick leaves roads alone; elsewhere they hurt the held-out images.
    assert road["refined_in_fold"] == [fold != big for fold in range(3)]
    assert all((gain == 0) == (fold == big) and gain <= 0 for fold, gain in enumerate(road["fold_gains"]))
    assert road["pooled_gain"] < 0 and road["in_pick"] and not road["kept"]
    assert building["kept"] and building["pooled_gain"] > 0 and all(gain > 0 for gain in building["fold_gains"])
    assert 0 < building["interval_90"][0] <= building["pooled_gain"] <= building["interval_90"][1]
    assert road["interval_90"][0] <= road["pooled_gain"] <= road["interval_90"][1] <= 0
    assert "cv selection: 3 folds over 6 tune images" in folder.metrics_text.read_text()
    best = json.loads(folder.best.read_text())
    assert best["tuned_on"] == [s.stem for s in samples]
    assert best["tuned_changes"]["building"]["to"] == round(21 / SIZE**2, 6)
    assert best["tuned_changes"]["road"]["to"] == 0.0, "roads are no longer refined"
    again = choose_and_apply(
        root / "sweep" / "sweep.json", samples, samples, URBAN, ChoiceFolder(tmp_path / "again"), settings=settings
    )
    assert again.selection == record, "seeded: the same folds and intervals"


def test_cv_selects_the_same_from_a_sweep_json_naming_its_images_scenes(swept, tmp_path):
    root, samples = swept
    settings = ChoiceSettings(select="cv", folds=3, seed=4)
    new = choose_and_apply(
        root / "sweep" / "sweep.json", samples, samples, URBAN, ChoiceFolder(tmp_path / "new"), settings=settings
    )
    old_sweep = tmp_path / "old_sweep"
    shutil.copytree(root / "sweep", old_sweep)
    record = json.loads((old_sweep / "sweep.json").read_text())
    record["scenes"] = record.pop("images")  # as a release before the rename wrote it
    (old_sweep / "sweep.json").write_text(json.dumps(record))
    old = choose_and_apply(
        old_sweep / "sweep.json", samples, samples, URBAN, ChoiceFolder(tmp_path / "old"), settings=settings
    )
    assert old.selection == new.selection and old.thresholds == new.thresholds


def test_best_json_records_the_changes_on_the_tune_images(swept, tmp_path):
    root, samples = swept
    folder = ChoiceFolder(tmp_path / "pick")
    choose_and_apply(root / "sweep" / "sweep.json", samples[1:], samples[:1], URBAN, folder)
    best = json.loads(folder.best.read_text())
    assert Thresholds.read(folder.best, URBAN).modify == (BUILDING, ROAD)
    assert best["tuned_on"] == ["s1", "s2", "s3", "s4", "s5"]
    # The tune images are not the refined ones: they are refined for this record. On each, 21 background pixels
    # become building and 21 road (11 x 11 objects over 10 x 10 squares).
    changes = best["tuned_changes"]
    assert changes["building"] == {"to": round(21 / SIZE**2, 6), "from": 0.0, "predicted": round(100 / SIZE**2, 6)}
    assert changes["road"]["to"] == changes["building"]["to"]
    assert changes["background"]["from"] == round(42 / SIZE**2, 6) and changes["background"]["to"] == 0.0


def test_cv_needs_the_sweep_of_the_tune_images_and_its_parts(swept, tmp_path):
    root, samples = swept
    cv = ChoiceSettings(select="cv", folds=2)
    with pytest.raises(InputError, match="a sweep of 6 images, not of the 5 tune images"):
        choose_and_apply(
            root / "sweep" / "sweep.json", samples[1:], samples, URBAN, ChoiceFolder(tmp_path / "a"), settings=cv
        )
    with pytest.raises(InputError, match="7 folds over 6 tune images: give 2 to 6 folds"):
        choose_and_apply(
            root / "sweep" / "sweep.json",
            samples,
            samples,
            URBAN,
            ChoiceFolder(tmp_path / "b"),
            settings=ChoiceSettings(select="cv", folds=7),
        )
    with pytest.raises(InputError, match="does not follow the joint search"):
        ChoiceSettings(search="joint", select="cv")
    copy = tmp_path / "sweep"
    copy.mkdir()
    (copy / "sweep.json").write_text((root / "sweep" / "sweep.json").read_text())
    with pytest.raises(InputError, match=r"parts.s0\.npz: missing"):
        choose_and_apply(copy / "sweep.json", samples, samples, URBAN, ChoiceFolder(tmp_path / "c"), settings=cv)
    assert not (tmp_path / "c" / "best.json").exists()


def test_the_script_selects_by_cv_and_says_so(swept, tmp_path, capsys):
    root, _ = swept
    out = tmp_path / "cv"
    assert (
        get_best_t1_t2.main(
            [
                "--sweep",
                str(root / "sweep" / "sweep.json"),
                "--pred-dir",
                str(root / "pred"),
                "--sam-dir",
                str(root / "sam"),
                "--gt-dir",
                str(root / "gt"),
                "--dataset",
                "Urban",
                "--out",
                str(out),
                "--select",
                "cv",
                "--folds",
                "3",
                "-n",
                "1",
            ]
        )
        == 0
    )
    assert "cv selection: modify [1] of the pick's [1, 2]" in capsys.readouterr().out
    assert json.loads((out / "selection.json").read_text())["folds"] == 3
    assert json.loads((out / "best.json").read_text())["modify"] == [BUILDING]
