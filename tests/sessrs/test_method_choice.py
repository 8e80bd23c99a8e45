"""--method auto: a vote is chosen when it wins held out and not when it loses; best.json records the method, and
applying that best.json reproduces the refined maps."""

import json

import get_best_t1_t2
import numpy as np
import pytest

from rscommon.datasets import URBAN
from rscommon.files import InputError
from rscommon.labels import read_label_png, write_label_png
from rscommon.objects import encode_object
from sessrs import api
from sessrs.choose import ChoiceSettings
from sessrs.inputs import pair_inputs
from sessrs.sweep import run_sweep
from sessrs.thresholds import Thresholds
from sessrs.voting import majority_vote, ssa_vote

SIZE, CELL, NOISE = 48, 12, 0.03


def write_scenes(root, good_objects: bool, count: int = 4):
    """Blocky scenes whose prediction has noisy boundaries. Good objects are the true cells (a vote repairs the
    noise); bad objects are the same squares moved by half a cell, each across four cells (a vote paints the
    plurality's class over the others)."""
    for kind in ("pred", "sam", "gt"):
        (root / kind).mkdir(parents=True)
    for index in range(count):
        rng = np.random.default_rng(index)
        grid = rng.integers(0, 6, (SIZE // CELL, SIZE // CELL), dtype=np.uint8)
        gt = np.kron(grid, np.ones((CELL, CELL), np.uint8))
        pred = gt.copy()
        noisy = rng.random(gt.shape) < NOISE
        pred[noisy] = rng.integers(0, 6, int(noisy.sum()))
        shift = 0 if good_objects else CELL // 2
        masks = []
        for top in range(shift, SIZE, CELL):
            for left in range(shift, SIZE, CELL):
                masks.append(np.zeros(gt.shape, bool))
                masks[-1][top : top + CELL, left : left + CELL] = True
        write_label_png(root / "gt" / f"s{index}.png", gt, URBAN)
        write_label_png(root / "pred" / f"s{index}.png", pred, URBAN)
        (root / "sam" / f"s{index}.json").write_text(json.dumps([encode_object(mask) for mask in masks]))
    samples = pair_inputs(root / "pred", root / "sam", root / "gt")
    run_sweep(samples, URBAN, root / "sweep", classes=[1, 2, 3])
    return root


def choose_auto(root, out):
    return api.choose_folder(
        root / "sweep" / "sweep.json",
        root / "pred",
        root / "sam",
        out,
        URBAN,
        gt_dir=root / "gt",
        settings=ChoiceSettings(method="auto", folds=2),
    )


def test_a_vote_is_chosen_when_it_wins_held_out_and_best_json_reproduces_it(tmp_path):
    root = write_scenes(tmp_path / "good", good_objects=True)
    choice = choose_auto(root, tmp_path / "out")
    held_out = choice.method["held_out_mIoU"]
    assert choice.method["method"] in ("ssa_vote", "majority_vote")
    assert held_out[choice.method["method"]] == max(held_out.values())
    assert held_out[choice.method["method"]] > held_out["thresholds"]
    best = json.loads((tmp_path / "out" / "best.json").read_text())
    assert best["method"] == choice.method["method"]
    assert json.loads((tmp_path / "out" / "method_choice.json").read_text()) == choice.method
    assert choice.report["refined"]["mIoU"] > choice.report["unrefined"]["mIoU"]
    again = tmp_path / "again"
    thresholds = Thresholds.read(tmp_path / "out" / "best.json", URBAN)
    report = api.apply_thresholds(thresholds, root / "pred", root / "sam", again, URBAN, gt_dir=root / "gt")
    assert report["refined"]["mIoU"] == choice.report["refined"]["mIoU"]
    for path in sorted((tmp_path / "out" / "se_mask").glob("*.png")):
        assert np.array_equal(read_label_png(path), read_label_png(again / path.name))


def test_no_vote_is_chosen_when_the_votes_lose(tmp_path):
    root = write_scenes(tmp_path / "bad", good_objects=False)
    choice = choose_auto(root, tmp_path / "out")
    held_out = choice.method["held_out_mIoU"]
    assert choice.method["method"] in ("thresholds", "unrefined")
    assert max(held_out["ssa_vote"], held_out["majority_vote"]) < held_out[choice.method["method"]]
    assert "method" not in json.loads((tmp_path / "out" / "best.json").read_text())
    assert choice.report["refined"]["mIoU"] >= choice.report["unrefined"]["mIoU"] - 0.5


def test_a_vote_in_thresholds_round_trips_and_refines_as_the_vote():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 3, (16, 20), dtype=np.uint8)
    mask = np.zeros((16, 20), bool)
    mask[2:9, 3:15] = True
    objects = [encode_object(mask)]
    for method, rule in (("ssa_vote", ssa_vote), ("majority_vote", lambda p, o: majority_vote(p, o, 0.5))):
        thresholds = Thresholds.from_json({"t1": {}, "t2": {}, "modify": [], "method": method})
        assert thresholds.to_json()["method"] == method
        assert np.array_equal(api.refine(pred, objects, thresholds), rule(pred, objects))
    assert "method" not in Thresholds(t1={1: 0.5}, t2={1: 0.6}, modify=[1]).to_json()
    with pytest.raises(InputError, match="best.json: method 'vote' is not one of thresholds, ssa_vote"):
        Thresholds.from_json({"t1": {}, "t2": {}, "modify": [], "method": "vote"}, "best.json")


def test_auto_is_refused_with_cv_and_reaches_the_script():
    assert ChoiceSettings(method="auto", search="joint").method == "auto"
    with pytest.raises(InputError, match="method auto"):
        ChoiceSettings(method="auto", select="cv")
    with pytest.raises(InputError, match="method 'best'"):
        ChoiceSettings(method="best")
    args = get_best_t1_t2.parse_args(
        [
            "--sweep",
            "s.json",
            "--pred-dir",
            "p",
            "--sam-dir",
            "s",
            "--dataset",
            "Urban",
            "--out",
            "o",
            "--method",
            "auto",
        ]
    )
    assert args.choice.method == "auto"
