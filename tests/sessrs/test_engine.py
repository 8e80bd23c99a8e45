"""The sweep engine refines one class alone as the full refinement does: its incremental confusion matrices equal
those of ``refine_prepared`` on fixture scenes and random cases, in both modes, and steps 3 and 5 (which it skips)
change nothing when one class is refined alone."""

import numpy as np
import pytest
from sessrs_cases import fixture_scene, random_case

import sessrs.steps as STEPS
from rscommon.metrics import confusion_matrix
from sessrs.claims import ClaimSets
from sessrs.modes import FAITHFUL, IMPROVED
from sessrs.painting import Painting
from sessrs.steps import assign_classes, refine_class, refine_prepared
from sessrs.sweep_engine import REFERENCE_GRID, ThresholdGrid, sweep_image

MODES = {"faithful": FAITHFUL, "improved": IMPROVED}


def alone(num_classes: int, cls: int, t1: float, t2: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-class thresholds with ``cls`` at (t1, t2) and every other class at 1, as one sweep step uses."""
    t1s, t2s = np.ones(num_classes), np.ones(num_classes)
    t1s[cls], t2s[cls] = t1, t2
    return t1s, t2s


def full_matrix(scene, gt, cls, t1, t2, max_objects, options) -> np.ndarray:
    refined = refine_prepared(
        scene, *alone(scene.num_classes, cls, t1, t2), [cls], max_objects=max_objects, options=options
    )
    return confusion_matrix(gt, refined, scene.num_classes)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["01002", "01008"])
def test_fixture_sweep_rows_equal_full_refinement(name, mode):
    scene, gt = fixture_scene(name)
    result = sweep_image(scene, gt, [0, 2, 6], max_objects=10, options=MODES[mode])
    for cls in (0, 2, 6):
        for row in (0, 13, 31, 44):
            t1, t2 = REFERENCE_GRID.pairs[row]
            assert np.array_equal(result.per_class[cls][row], full_matrix(scene, gt, cls, t1, t2, 10, MODES[mode]))


@pytest.mark.parametrize("mode", MODES)
def test_random_sweep_rows_equal_full_refinement(mode):
    grid = ThresholdGrid((0.3, 0.5, 0.7, 0.9), (0.2, 0.4, 0.55, 0.7, 0.9))
    moved = 0
    for seed in range(16):
        scene, gt = random_case(seed)
        result = sweep_image(scene, gt, range(scene.num_classes), max_objects=5, grid=grid, options=MODES[mode])
        for cls, matrices in result.per_class.items():
            for (t1, t2), matrix in zip(grid.pairs, matrices, strict=True):
                assert np.array_equal(matrix, full_matrix(scene, gt, cls, t1, t2, 5, MODES[mode])), (seed, cls, t1, t2)
                moved += not np.array_equal(matrix, result.baseline)
    assert moved > 100, "the random cases should refine something"


@pytest.mark.parametrize("mode", MODES)
def test_steps_3_and_5_change_nothing_when_one_class_is_refined_alone(mode, monkeypatch):
    resolve = STEPS.resolve_object_overlaps
    checked = []

    def resolve_and_compare(scene, objects, t2, modify):
        classes = set(objects.cls[objects.cls >= 0].tolist())
        assert classes <= set(modify), "with every other class at t1 = 1 only the refined class takes objects"
        before = [pixels.copy() for pixels in objects.pixels]
        resolve(scene, objects, t2, modify)
        assert not objects.reduced.any()
        assert all(np.array_equal(a, b) for a, b in zip(before, objects.pixels, strict=True))
        checked.append(len(before))

    def no_conflicts(*args, **kwargs):
        raise AssertionError("step 5 found pixels claimed by two classes with one class refined")

    monkeypatch.setattr(STEPS, "resolve_object_overlaps", resolve_and_compare)
    monkeypatch.setattr(Painting, "_settle", no_conflicts)
    cases = [fixture_scene(name) for name in ("01001", "01005")] + [random_case(seed) for seed in range(8)]
    for scene, _ in cases:
        for cls in range(min(scene.num_classes, 7)):
            for t1, t2 in REFERENCE_GRID.pairs[::11]:
                refine_prepared(
                    scene, *alone(scene.num_classes, cls, t1, t2), [cls], max_objects=10, options=MODES[mode]
                )
    assert len(checked) == 2 * 7 * 5 + 8 * 5 * 5 and sum(checked) > 0


def test_two_classes_do_conflict_so_the_check_above_can_fail():
    scene, _ = fixture_scene("01001")
    objects = assign_classes(scene, np.full(8, 0.5))
    assert len(set(objects.cls[objects.cls >= 0].tolist())) > 1
    refined = [refine_class(scene, objects, cls, 0.5, 0.55, max_objects=10) for cls in (0, 6)]
    change = Painting(scene).change({r.cls: r for r in refined}, [0, 6])
    assert ClaimSets(scene.num_classes).several(change.claims).any()
