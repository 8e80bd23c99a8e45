"""Each fix of the improved mode, switched on alone, changes the refinement of a case built to show its quirk."""

import shutil

import numpy as np
import pytest
from sessrs_cases import SCENES

from rscommon.datasets import URBAN
from rscommon.objects import encode_object
from sessrs.application import apply_to_samples
from sessrs.choose import ChoiceSettings, choose_and_apply
from sessrs.fill import fill_class
from sessrs.folders import ChoiceFolder
from sessrs.inputs import pair_inputs
from sessrs.modes import FAITHFUL, IMPROVED, RefineOptions
from sessrs.prepared import prepare_image
from sessrs.steps import refine_prepared
from sessrs.sweep import run_sweep
from sessrs.thresholds import APPLY_MAX_OBJECTS, SWEEP_MAX_OBJECTS, Thresholds


def box(shape, rows, cols) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[rows[0] : rows[1], cols[0] : cols[1]] = True
    return mask


def refined(pred, masks, t1, t2, modify, options, max_objects=5, num_classes=4) -> np.ndarray:
    scene = prepare_image(pred, [encode_object(m) for m in masks], num_classes)
    t1s, t2s = np.ones(num_classes), np.ones(num_classes)
    for cls, value in t1.items():
        t1s[cls] = value
    for cls, value in t2.items():
        t2s[cls] = value
    return refine_prepared(scene, t1s, t2s, modify, max_objects=max_objects, options=options)


def test_presets_and_their_json_form():
    assert FAITHFUL == RefineOptions() and FAITHFUL.mode == "faithful" and IMPROVED.mode == "improved"
    assert RefineOptions(fill_from_neighbourhood=True).mode == "custom"
    assert RefineOptions.from_json(IMPROVED.to_json()) == IMPROVED
    assert RefineOptions.for_mode("improved") == IMPROVED
    with pytest.raises(ValueError, match="unknown refinement options"):
        RefineOptions.from_json({"skip_big": True})
    with pytest.raises(ValueError, match="big_object_fraction"):
        RefineOptions(big_object_fraction=1.5)


def test_the_size_limit_scales_with_the_image():
    assert FAITHFUL.big_object_pixels(512 * 512) == FAITHFUL.big_object_pixels(1024 * 1024) == 200_000
    assert IMPROVED.big_object_pixels(1024 * 1024) == pytest.approx(200_000)
    assert IMPROVED.big_object_pixels(512 * 512) == pytest.approx(50_000)
    # a 62,500-pixel object inside a 90,000-pixel building on a 512 x 512 tile: under the reference's fixed
    # limit it replaces the building (the rest is filled from around); scaled (50,000 pixels on this tile) it is
    # too big to.
    pred = np.zeros((512, 512), np.uint8)
    pred[100:400, 100:400] = 1
    masks = [box(pred.shape, (120, 370), (120, 370))]
    args = (pred, masks, {1: 0.5}, {1: 0.55}, [1])
    faithful = refined(*args, RefineOptions(fill_from_neighbourhood=True))
    scaled = refined(
        *args, RefineOptions(fill_from_neighbourhood=True, big_object_fraction=IMPROVED.big_object_fraction)
    )
    assert np.count_nonzero(faithful != pred) > 20_000
    assert np.array_equal(scaled, pred)


def test_a_big_object_is_skipped_alone_instead_of_emptying_the_candidate_list():
    # Building (class 1) in columns 0..29, road (class 2) in 30..39. Object A (area 1200) is cut by the purer
    # road object C down to 800 pixels; object B (1000 pixels) is over the limit of 900 and comes after A.
    pred = np.full((40, 40), 1, np.uint8)
    pred[:, 30:] = 2
    a, b, c = box(pred.shape, (0, 40), (10, 40)), box(pred.shape, (0, 40), (0, 25)), box(pred.shape, (0, 40), (30, 40))
    limit = 900 / pred.size
    args = (pred, [a, b, c], {1: 0.6, 2: 0.5}, {1: 0.55}, [1])
    emptied = refined(*args, RefineOptions(big_object_fraction=limit))
    skipped_alone = refined(*args, RefineOptions(big_object_fraction=limit, skip_big_objects_alone=True))
    assert np.array_equal(emptied, pred), "B empties the list holding A: the building stays as predicted"
    assert np.array_equal(skipped_alone[:, 10:30], np.ones((40, 20))), "the building becomes A (reduced)"
    assert np.all(skipped_alone[:, :10] == 1), "the rest is filled, but the region fills its box: it keeps 1"
    assert np.array_equal(skipped_alone[:, 30:], pred[:, 30:])


def test_a_pixel_claimed_by_three_classes_goes_to_the_best_matching_one():
    # Three instances (classes 1, 2, 3), each replaced by an object that also covers the square S in the middle.
    # S is claimed by all three: the reference paints it class 0; the best match is class 1 (IoU 36/180).
    pred = np.zeros((30, 30), np.uint8)
    pred[:15, :10], pred[:15, 10:], pred[15:] = 1, 2, 3
    square = box(pred.shape, (12, 18), (8, 14))
    masks = [(pred == cls) | square for cls in (1, 2, 3)]
    args = (pred, masks, {1: 0.5, 2: 0.5, 3: 0.5}, {1: 0.55, 2: 0.55, 3: 0.55}, [1, 2, 3])
    faithful = refined(*args, FAITHFUL)
    better = refined(*args, RefineOptions(conflicts_to_better_class=True))
    assert np.all(faithful[square] == 0)
    assert np.all(better[square] == 1)
    assert np.array_equal(faithful[~square], better[~square])


def test_the_fill_sees_the_real_neighbourhood():
    pred = np.full((12, 12), 2, np.uint8)
    pred[3:9, 3:9] = 1
    assert np.array_equal(fill_class(pred, 1), pred), "the region fills its box: the reference keeps it"
    assert np.all(fill_class(pred, 1, neighbourhood=True) == 2)
    # in a refinement: the building is replaced by an object covering its left part; the rest is filled
    masks = [box(pred.shape, (3, 9), (3, 7))]
    args = (pred, masks, {1: 0.5}, {1: 0.55}, [1])
    faithful = refined(*args, FAITHFUL)
    neighbourhood = refined(*args, RefineOptions(fill_from_neighbourhood=True))
    assert np.array_equal(faithful, pred)
    expected = pred.copy()
    expected[3:9, 7:9] = 2
    assert np.array_equal(neighbourhood, expected)


def test_neighbourhood_fill_takes_the_majority_around_and_keeps_regions_that_see_nothing():
    pred = np.array([[0, 0, 3, 3], [0, 1, 1, 3], [0, 3, 3, 3]], np.uint8)
    filled = fill_class(pred, 1, neighbourhood=True)
    assert filled[1, 1] == filled[1, 2] == 3  # 8-neighbours of each border pixel: 0 x 5, 3 x 9 in all
    assert np.array_equal(fill_class(pred, 1), pred), "in its bounding box the run sees nothing"
    assert np.array_equal(fill_class(np.ones((3, 3), np.uint8), 1, neighbourhood=True), np.ones((3, 3)))


def test_classes_outside_modify_take_no_objects_when_asked():
    # Road (class 2) is not refined but has t1 0.5 from its pick: its pure object cuts the building's object
    # in the reference (step 3), not when only refined classes take objects.
    pred = np.full((40, 40), 1, np.uint8)
    pred[:, 30:] = 2
    masks = [box(pred.shape, (0, 40), (5, 40)), box(pred.shape, (0, 40), (30, 40))]
    args = (pred, masks, {1: 0.6, 2: 0.5}, {1: 0.55, 2: 0.55}, [1])
    faithful = refined(*args, FAITHFUL)
    inert = refined(*args, RefineOptions(only_refined_classes_take_objects=True))
    assert np.all(faithful[:, 30:] == 2), "the cut object leaves the road alone"
    assert np.all(inert[:, 5:] == 1), "the whole object (road included) replaces the building"


@pytest.fixture(scope="module")
def two_scenes(tmp_path_factory):
    """Two fixture scenes (one of them 512 x 768) in a folder of their own."""
    folder = tmp_path_factory.mktemp("pred")
    for name in ("01008", "01001"):
        shutil.copy(SCENES / "pred" / f"{name}.png", folder)
    return pair_inputs(folder, SCENES / "sam", SCENES / "gt")


@pytest.mark.parametrize("mode", ["faithful", "improved"])
def test_a_pick_refining_one_class_alone_scores_its_sweep_row_in_improved_mode(two_scenes, tmp_path, mode):
    """The improved mode sweeps with the application's object limit, and classes outside ``modify`` take no
    objects: applying one class alone scores exactly its sweep row. The reference differs on these scenes."""
    options = RefineOptions.for_mode(mode)
    limit = options.sweep_object_limit(SWEEP_MAX_OBJECTS, APPLY_MAX_OBJECTS)
    sweep = run_sweep(two_scenes, URBAN, tmp_path / "sweep", classes=[0, 6], max_objects=limit, options=options)
    assert sweep["mode"] == mode and sweep["max_objects"] == (5 if mode == "improved" else 10)
    differences = 0
    for cls in (0, 6):
        for index, row in enumerate(sweep["sweeps"][str(cls)][::22]):
            # as a pick gives it: the other classes picked with t1 0.8, over the 0.7 limit, so not refined
            thresholds = Thresholds(
                t1={**dict.fromkeys(range(7), 0.8), cls: row["t1"]}, t2={cls: row["t2"]}, modify=[cls]
            )
            report = apply_to_samples(
                two_scenes,
                URBAN,
                thresholds,
                tmp_path / f"{cls}_{index}",
                max_objects=APPLY_MAX_OBJECTS,
                options=options,
            )
            differences += report["refined"]["mIoU"] != row["mIoU"]
    assert differences == 0 if mode == "improved" else differences > 0


def test_a_sweep_of_another_mode_is_refused_by_the_pick(two_scenes, tmp_path):
    from rscommon.files import InputError

    run_sweep(two_scenes, URBAN, tmp_path / "sweep", classes=[6])
    with pytest.raises(InputError, match="swept in faithful mode, picked in improved mode"):
        choose_and_apply(
            tmp_path / "sweep" / "sweep.json",
            two_scenes,
            two_scenes,
            URBAN,
            ChoiceFolder(tmp_path / "out"),
            settings=ChoiceSettings(options=IMPROVED),
        )
    assert not (tmp_path / "out").exists()
