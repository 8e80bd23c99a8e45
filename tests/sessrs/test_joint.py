"""The joint search: its incremental scores equal full applications, it ends at a point no single class can improve,
it is deterministic, resumes where it stopped, and uses every worker the same way."""

import json
from pathlib import Path

import numpy as np
import pytest
from sessrs_cases import fixture_scene, random_case, write_random_scenes

import sessrs.joint as joint
from rscommon.datasets import URBAN
from rscommon.metrics import confusion_matrix
from rscommon.parallel import LOCAL, Execution
from sessrs.inputs import load_ground_truth, load_prepared, pair_inputs
from sessrs.joint import candidates_for, joint_search, mean_iou, settings_from
from sessrs.joint_engine import OFF, ClassSetting, ImageEvaluator, modify_of, with_setting
from sessrs.modes import FAITHFUL, IMPROVED
from sessrs.steps import refine_prepared
from sessrs.sweep_engine import REFERENCE_GRID, ThresholdGrid
from sessrs.thresholds import Thresholds

MODES = {"faithful": FAITHFUL, "improved": IMPROVED}
GRID = ThresholdGrid((0.3, 0.5, 0.7), (0.3, 0.55, 0.8))


def applied(scene, settings, options, max_objects=5) -> np.ndarray:
    """The full application of ``settings``, as the pick's application runs it."""
    t1, t2 = np.array([s.t1 for s in settings]), np.array([s.t2 for s in settings])
    return refine_prepared(scene, t1, t2, modify_of(settings), max_objects=max_objects, options=options)


@pytest.mark.parametrize("mode", MODES)
def test_incremental_scores_equal_full_applications(mode):
    rng = np.random.default_rng(7)
    cases = [random_case(seed, num_classes=6) for seed in range(10)] + [fixture_scene("01001")]
    for scene, gt in cases:
        evaluator = ImageEvaluator(scene, gt, max_objects=5, options=MODES[mode])
        for _ in range(14):
            cls = int(rng.integers(min(scene.num_classes, 7)))
            t1, t2 = REFERENCE_GRID.pairs[rng.integers(len(REFERENCE_GRID.pairs))]
            setting = OFF if rng.random() < 0.2 else ClassSetting(float(rng.choice([t1, 0.3])), t2, rng.random() < 0.8)
            settings = with_setting(evaluator.settings, cls, setting)
            expected = confusion_matrix(gt, applied(scene, settings, MODES[mode]), scene.num_classes)
            assert np.array_equal(evaluator.score(settings), expected)
            if rng.random() < 0.6:
                assert np.array_equal(evaluator.commit(settings), expected)
                assert np.array_equal(
                    evaluator.painting.values.reshape(scene.shape, order="F"), applied(scene, settings, MODES[mode])
                )


@pytest.fixture(scope="module")
def random_scenes(tmp_path_factory):
    """Six small random scenes written as prediction, objects and ground truth files (Urban classes 0..4)."""
    root = write_random_scenes(tmp_path_factory.mktemp("scenes"), range(100, 106))
    return pair_inputs(root / "pred", root / "sam", root / "gt")


SEARCH = {"max_objects": 5, "grid": GRID, "classes": range(5)}
START = settings_from(Thresholds(t1={1: 0.5, 2: 0.7}, t2={1: 0.55, 2: 0.8}, modify=[1, 2]), URBAN.num_classes)


def trace_without_times(state):
    return [{k: v for k, v in step.items() if k != "seconds"} for step in state.trace]


@pytest.mark.parametrize("mode", MODES)
def test_search_ends_where_no_single_class_change_helps(random_scenes, tmp_path, mode):
    state = joint_search(random_scenes, URBAN, START, tmp_path, options=MODES[mode], **SEARCH)
    scores = [step["mIoU"] for step in state.trace]
    assert scores == sorted(scores) and state.done and state.trace[-1]["gain"] == 0
    scenes = [load_prepared(s, URBAN) for s in random_scenes]
    truths = [load_ground_truth(s, URBAN, scene.shape) for s, scene in zip(random_scenes, scenes)]

    def full_miou(settings):
        matrix = sum(
            confusion_matrix(gt, applied(scene, settings, MODES[mode]), URBAN.num_classes)
            for scene, gt in zip(scenes, truths)
        )
        return mean_iou(matrix, URBAN)

    assert full_miou(state.settings) == pytest.approx(state.miou, abs=1e-12)
    assert state.miou > full_miou(START), "the search should improve on its start in these scenes"
    for cls in range(5):
        for candidate in candidates_for(state.settings[cls], GRID):
            assert full_miou(with_setting(state.settings, cls, candidate)) <= state.miou + 1e-12


def test_search_stops_once_every_other_class_was_tried_since_the_last_change(random_scenes, tmp_path):
    """The class that changed last is not tried again (with the others unchanged it would keep its setting; the
    test above shows no single change helps at the end)."""
    steps = joint_search(random_scenes, URBAN, START, tmp_path, options=FAITHFUL, **SEARCH).trace[1:]
    last = max(index for index, step in enumerate(steps) if step["gain"] > 0)
    after = [step["class"] for step in steps[last + 1 :]]
    assert sorted(after) == sorted(set(SEARCH["classes"]) - {steps[last]["class"]})


def test_search_is_deterministic_and_workers_agree(random_scenes, tmp_path):
    one = joint_search(random_scenes, URBAN, START, tmp_path / "one", options=FAITHFUL, **SEARCH)
    two = joint_search(
        random_scenes, URBAN, START, tmp_path / "two", options=FAITHFUL, **SEARCH, execution=Execution(2)
    )
    assert trace_without_times(one) == trace_without_times(two) and one.settings == two.settings


def test_an_interrupted_search_resumes_where_it_stopped(random_scenes, tmp_path, monkeypatch):
    whole = joint_search(random_scenes, URBAN, START, tmp_path / "whole", options=FAITHFUL, **SEARCH)
    step, calls = joint._step, []

    def interrupted(*args):
        if len(calls) == 4:
            raise KeyboardInterrupt
        calls.append(1)
        step(*args)

    monkeypatch.setattr(joint, "_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        joint_search(random_scenes, URBAN, START, tmp_path / "part", options=FAITHFUL, **SEARCH)
    saved = json.loads((tmp_path / "part" / "joint_state.json").read_text())
    assert len(saved["trace"]) == 5 and not saved["done"]
    monkeypatch.setattr(joint, "_step", step)
    resumed_steps = []
    monkeypatch.setattr(joint, "_step", lambda *args: (resumed_steps.append(1), step(*args)))
    resumed = joint_search(random_scenes, URBAN, START, tmp_path / "part", options=FAITHFUL, **SEARCH)
    assert trace_without_times(resumed) == trace_without_times(whole)
    assert len(resumed_steps) == len(whole.trace) - 1 - 4


def test_a_search_of_other_settings_starts_again(random_scenes, tmp_path, capsys):
    joint_search(random_scenes, URBAN, START, tmp_path, options=FAITHFUL, **SEARCH)
    other = joint_search(random_scenes, URBAN, START, tmp_path, options=IMPROVED, **SEARCH)
    assert "settings.options" in capsys.readouterr().out
    assert json.loads((tmp_path / "joint_state.json").read_text())["key"]["settings"]["options"] == IMPROVED.to_json()
    assert other.done


def test_trace_is_written_as_json_and_a_plot(random_scenes, tmp_path):
    from image_files import pixels

    from sessrs.folders import ChoiceFolder
    from sessrs.joint_trace import write_trace

    state = joint_search(random_scenes, URBAN, START, tmp_path, options=IMPROVED, **SEARCH)
    trace = write_trace(state, URBAN, ChoiceFolder(tmp_path), IMPROVED, GRID, [s.stem for s in random_scenes])
    assert json.loads((tmp_path / "joint_trace.json").read_text()) == json.loads(json.dumps(trace))
    assert trace["mode"] == "improved"
    assert trace["best"]["modify"] == modify_of(state.settings) and len(trace["steps"]) == len(state.trace)
    assert trace["mIoU_best"] >= trace["mIoU_start"]
    image = pixels(tmp_path / "joint_trace.png")
    assert image.shape[0] > 200 and len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 10


def test_scripts_sweep_a_grid_in_improved_mode_and_search_jointly_on_the_tune_images(random_scenes, tmp_path):
    import sys

    from rscommon.labels import read_label_png
    from sessrs.inputs import select

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "SESSRS"))
    import get_best_t1_t2
    import sessrs_t1_t2

    folders = [str(random_scenes[0].pred.parent), str(random_scenes[0].sam.parent), str(random_scenes[0].gt.parent)]
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"tune": ["s0", "s1", "s2", "s3"], "eval": ["s4", "s5"]}))
    common = [
        "--pred-dir",
        folders[0],
        "--sam-dir",
        folders[1],
        "--gt-dir",
        folders[2],
        "--dataset",
        "Urban",
        "--split",
        str(split),
        "--mode",
        "improved",
        "-n",
        "1",
    ]
    assert (
        sessrs_t1_t2.main(
            [
                *common,
                "--out",
                str(tmp_path / "sweep"),
                "--classes",
                "0",
                "1",
                "2",
                "3",
                "4",
                "--t1-values",
                "0.3",
                "0.5",
                "0.7",
                "--t2-values",
                "0.3",
                "0.55",
                "0.8",
            ]
        )
        == 0
    )
    sweep = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert sweep["grid"] == GRID.to_json() and sweep["mode"] == "improved" and sweep["max_objects"] == 5
    assert all(len(rows) == 9 for rows in sweep["sweeps"].values()) and sweep["images"] == ["s0", "s1", "s2", "s3"]
    out = tmp_path / "joint"
    arguments = [*common, "--sweep", str(tmp_path / "sweep" / "sweep.json"), "--search", "joint", "--out", str(out)]
    assert get_best_t1_t2.main(arguments) == 0
    trace = json.loads((out / "joint_trace.json").read_text())
    best = Thresholds.read(out / "best.json")
    metrics = json.loads((out / "metrics.json").read_text())
    assert trace["tuned_on"] == ["s0", "s1", "s2", "s3"] and trace["best"] == best.to_json()
    assert (out / "joint_trace.png").stat().st_size > 1000
    assert sorted(p.name for p in (out / "se_mask").glob("*.png")) == ["s4.png", "s5.png"]
    evaluated = select(random_scenes, ["s4", "s5"], "test")
    settings = settings_from(best, URBAN.num_classes)
    matrix = sum(
        confusion_matrix(
            load_ground_truth(s, URBAN, scene.shape), applied(scene, settings, IMPROVED), URBAN.num_classes
        )
        for s, scene in ((s, load_prepared(s, URBAN)) for s in evaluated)
    )
    assert metrics["refined"]["mIoU"] == round(100 * mean_iou(matrix, URBAN), 2)
    for s in evaluated:
        assert np.array_equal(
            read_label_png(out / "se_mask" / f"{s.stem}.png"), applied(load_prepared(s, URBAN), settings, IMPROVED)
        )
    assert get_best_t1_t2.main(arguments) == 0, "a second run finds the search done and the images refined"
    assert json.loads((out / "joint_trace.json").read_text())["steps"] == trace["steps"]


def test_held_out_comparison_refines_each_image_with_thresholds_tuned_on_the_others(random_scenes, tmp_path):
    from rscommon.objects import read_objects
    from sessrs.compare import METHODS, compare_modes, markdown_table
    from sessrs.voting import majority_vote, ssa_vote

    chosen = random_scenes[:4]
    comparison = compare_modes(chosen, URBAN, tmp_path, execution=LOCAL)
    rows = {(r["method"], r["mode"]): r for r in comparison["rows"]}
    assert list(rows) == [
        ("unrefined", "-"),
        ("SSA's vote", "-"),
        ("majority vote (t=0.5)", "-"),
        ("per-class pick", "faithful"),
        ("per-class pick", "improved"),
        ("joint search", "faithful"),
        ("joint search", "improved"),
    ]
    scenes = {s.stem: load_prepared(s, URBAN) for s in chosen}
    truths = {s.stem: load_ground_truth(s, URBAN, scenes[s.stem].shape) for s in chosen}

    def pooled(maps: dict[str, np.ndarray]) -> np.ndarray:
        return sum(confusion_matrix(truths[stem], refined, URBAN.num_classes) for stem, refined in maps.items())

    def refined(stem: str, thresholds: dict, mode: str) -> np.ndarray:
        return applied(scenes[stem], settings_from(Thresholds.from_json(thresholds), URBAN.num_classes), MODES[mode])

    for mode in MODES:
        folds = comparison["folds"][mode]
        assert [f["held_out"] for f in folds] == list(scenes)
        for method, key in zip(METHODS[1:], ("pick", "joint")):
            held_out = pooled({f["held_out"]: refined(f["held_out"], f[key], mode) for f in folds})
            in_sample = pooled({stem: refined(stem, comparison["in_sample"][mode][key], mode) for stem in scenes})
            assert np.array_equal(rows[method, mode]["held_out"]["confusion_matrix"], held_out)
            assert np.array_equal(rows[method, mode]["in_sample"]["confusion_matrix"], in_sample)
    for label, vote in (("SSA's vote", ssa_vote), ("majority vote (t=0.5)", lambda p, o: majority_vote(p, o, 0.5))):
        expected = pooled(
            {s.stem: vote(scenes[s.stem].pred, read_objects(s.sam, scenes[s.stem].shape)) for s in chosen}
        )
        for protocol in ("held_out", "in_sample"):
            assert np.array_equal(rows[label, "-"][protocol]["confusion_matrix"], expected)
    assert markdown_table(comparison).count("\n") == 8


@pytest.mark.parametrize("values", [["0.5", "1.5"], ["0.5", "0.5"], ["0"]])
def test_a_grid_outside_0_1_or_with_a_value_twice_is_refused(values, capsys):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "SESSRS"))
    import sessrs_t1_t2

    with pytest.raises(SystemExit) as exited:
        sessrs_t1_t2.parse_args(["-f", "x", "--t2-values", *values])
    assert exited.value.code == 2 and "t2_values" in capsys.readouterr().err
