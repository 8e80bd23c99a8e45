"""Screened steps of the joint search: the few confirmed candidates are scored exactly on every image, chosen by
their rank on a subset that does not depend on the other images; a screened search never loses mIoU."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sessrs_cases import write_random_scenes

from rscommon.datasets import URBAN
from rscommon.metrics import confusion_matrix
from sessrs.inputs import load_ground_truth, load_prepared, pair_inputs
from sessrs.joint import joint_search, mean_iou, settings_from
from sessrs.joint_engine import ClassSetting, modify_of
from sessrs.joint_screen import EXACT, Screening, screened_matrices, subset_of
from sessrs.steps import refine_prepared
from sessrs.sweep_engine import ThresholdGrid
from sessrs.thresholds import Thresholds

CANDIDATES = [ClassSetting(t1, 0.5, True) for t1 in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)]


def per_image_matrices(stems, seed):
    rng = np.random.default_rng(seed)
    return {stem: rng.integers(0, 50, (len(CANDIDATES), 3, 3)) for stem in sorted(stems)}


@settings(max_examples=30, deadline=None)
@given(count=st.integers(8, 40), every=st.integers(2, 5), keep=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_confirmed_candidates_are_scored_on_every_image_and_ranked_on_the_subset(count, every, keep, seed):
    stems = frozenset(f"s{index:03d}" for index in range(count))
    images = per_image_matrices(stems, seed)
    calls = []

    def totals(chosen_stems, candidates):
        calls.append((chosen_stems, len(candidates)))
        rows = [CANDIDATES.index(candidate) for candidate in candidates]
        return sum(images[stem][rows] for stem in chosen_stems)

    def miou(matrix):
        return float(np.diag(matrix).sum() / matrix.sum())

    screening = Screening(min_images=1, every=every, keep=keep, min_gain=0.0)
    chosen, matrices = screened_matrices(totals, stems, CANDIDATES, miou, screening)
    everything = sum(images.values())
    assert chosen[0] == 0 and len(chosen) == len(set(chosen))
    assert np.array_equal(matrices, everything[chosen]), "confirmed candidates are scored exactly on all images"
    subset = subset_of(stems, every)
    if subset and subset != stems:
        on_subset = sum(images[stem] for stem in subset)
        ranked = sorted(range(1, len(CANDIDATES)), key=lambda index: -miou(on_subset[index]))
        assert chosen[1:] == sorted(ranked[:keep])
        assert [len(stems_seen) for stems_seen, _ in calls] == [len(subset), count - len(subset)]
    exact_chosen, exact = screened_matrices(totals, stems, CANDIDATES, miou, EXACT)
    assert exact_chosen == list(range(len(CANDIDATES))) and np.array_equal(exact, everything)


def test_the_subset_of_an_image_does_not_depend_on_the_other_images():
    many = frozenset(f"g{index:05d}" for index in range(2000))
    few = frozenset(sorted(many)[:300])
    assert subset_of(few, 4) == subset_of(many, 4) & few
    assert 0.2 < len(subset_of(many, 4)) / len(many) < 0.3


GRID = ThresholdGrid((0.3, 0.5, 0.7), (0.3, 0.55, 0.8))
START = settings_from(Thresholds(t1={1: 0.5, 2: 0.7}, t2={1: 0.55, 2: 0.8}, modify=[1, 2]), URBAN.num_classes)


@pytest.mark.parametrize("min_gain", [0.0, 0.01])
def test_a_screened_search_never_loses_miou_and_reports_its_settings_exactly(tmp_path, min_gain):
    root = write_random_scenes(tmp_path / "scenes", range(100, 106))
    samples = pair_inputs(root / "pred", root / "sam", root / "gt")
    screening = Screening(min_images=2, every=2, keep=2, min_gain=min_gain)
    state = joint_search(
        samples, URBAN, START, tmp_path / "state", max_objects=5, grid=GRID, classes=range(5), screening=screening
    )
    scores = [step["mIoU"] for step in state.trace]
    assert scores == sorted(scores) and state.done
    assert all(step["settings_confirmed"] == 3 for step in state.trace[1:])
    assert all(step["gain"] == 0 or step["gain"] >= 100 * min_gain for step in state.trace[1:])
    scenes = [load_prepared(sample, URBAN) for sample in samples]
    t1, t2 = np.array([s.t1 for s in state.settings]), np.array([s.t2 for s in state.settings])
    matrix = sum(
        confusion_matrix(
            load_ground_truth(sample, URBAN, scene.shape),
            refine_prepared(scene, t1, t2, modify_of(state.settings), max_objects=5),
            URBAN.num_classes,
        )
        for sample, scene in zip(samples, scenes)
    )
    assert mean_iou(matrix, URBAN) == pytest.approx(state.miou, abs=1e-12)
