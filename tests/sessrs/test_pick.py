"""The pick chooses thresholds as the reference does, and the application writes and scores refined maps."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rscommon.datasets import URBAN
from rscommon.files import InputError
from rscommon.labels import read_label_png
from sessrs.application import apply_to_samples
from sessrs.inputs import load_prepared, pair_inputs
from sessrs.pick import pick_thresholds
from sessrs.steps import refine_prepared
from sessrs.thresholds import Thresholds

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "tests" / "fixtures" / "sessrs_reference" / "scenes"


def sweep_with(rows_by_class: dict[str, list[tuple[float, float, float]]], baseline: float = 50.0) -> dict:
    """A small sweep.json whose rows have only the fields the pick reads."""
    return {
        "classes": list(URBAN.classes),
        "baseline": {"mIoU": baseline},
        "sweeps": {c: [{"t1": a, "t2": b, "mIoU": m} for a, b, m in rows] for c, rows in rows_by_class.items()},
    }


def test_pick_takes_the_best_entry_and_the_first_on_ties():
    sweep = sweep_with({"1": [(0.5, 0.55, 50.5), (0.5, 0.6, 51.0), (0.6, 0.55, 51.0)]})
    best = pick_thresholds(sweep, URBAN)
    assert (best.t1[1], best.t2[1]) == (0.5, 0.6)
    assert best.modify == (1,)
    assert best.t1[7] == 1.0 and set(best.t1) == set(range(URBAN.num_classes))


def test_unrefined_entry_wins_ties_and_stays_out_of_modify():
    best = pick_thresholds(sweep_with({"2": [(0.5, 0.55, 50.0), (0.7, 0.9, 49.0)]}), URBAN)
    assert (best.t1[2], best.t2[2]) == (1.0, 1.0)
    assert best.modify == ()


def test_threshold_mode_limits_modify_by_picked_t1():
    sweep = sweep_with({"0": [(0.8, 0.55, 52.0)], "3": [(0.7, 0.6, 51.0)], "5": [(0.9, 0.95, 53.0)]})
    assert pick_thresholds(sweep, URBAN, "0.7").modify == (3,)
    assert pick_thresholds(sweep, URBAN, "all").modify == (0, 3, 5)
    assert pick_thresholds(sweep, URBAN, 0.8).t1[5] == 0.9


def test_application_writes_refined_maps_equal_to_refine(tmp_path):
    samples = pair_inputs(SCENES / "pred", SCENES / "sam", SCENES / "gt")[:3]
    best = Thresholds(t1={1: 0.5, 6: 0.6}, t2={1: 0.55, 6: 0.7}, modify=[1, 6])
    report = apply_to_samples(samples, URBAN, best, tmp_path / "se_mask")
    for sample in samples:
        written = read_label_png(tmp_path / "se_mask" / f"{sample.stem}.png")
        scene = load_prepared(sample, URBAN)
        expected = refine_prepared(scene, best.t1_array(8), best.t2_array(8), [1, 6], max_objects=5)
        assert np.array_equal(written, expected)
    assert report["refined"]["mIoU"] != report["unrefined"]["mIoU"]
    assert set(report["refined"]["per_class"]) == {URBAN.classes[c] for c in URBAN.scored}


def test_application_resumes_and_refuses_other_thresholds(tmp_path):
    samples = pair_inputs(SCENES / "pred", SCENES / "sam", SCENES / "gt")[:2]
    best = Thresholds(t1={1: 0.5}, t2={1: 0.55}, modify=[1])
    first = apply_to_samples(samples, URBAN, best, tmp_path / "se_mask")
    (tmp_path / "se_mask" / f"{samples[0].stem}.png").unlink()
    assert apply_to_samples(samples, URBAN, best, tmp_path / "se_mask") == first
    other = Thresholds(t1={1: 0.6}, t2={1: 0.55}, modify=[1])
    with pytest.raises(InputError, match="other thresholds"):
        apply_to_samples(samples, URBAN, other, tmp_path / "se_mask")


def test_command_line_sweep_then_pick_with_a_held_out_split(tmp_path):
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"tune": ["01000", "01001"], "eval": ["01002"]}))
    common = [
        "--pred-dir",
        str(SCENES / "pred"),
        "--sam-dir",
        str(SCENES / "sam"),
        "--gt-dir",
        str(SCENES / "gt"),
        "--dataset",
        "Urban",
        "--split",
        str(split),
        "-n",
        "1",
    ]
    sweep = subprocess.run(
        [
            sys.executable,
            REPO / "SESSRS" / "sessrs_t1_t2.py",
            *common,
            "--out",
            tmp_path / "sweep",
            "--classes",
            "1",
            "6",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert sweep.returncode == 0, sweep.stderr
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text())["images"] == ["01000", "01001"]
    pick = subprocess.run(
        [
            sys.executable,
            REPO / "SESSRS" / "get_best_t1_t2.py",
            *common,
            "--out",
            tmp_path / "pick",
            "--sweep",
            tmp_path / "sweep" / "sweep.json",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert pick.returncode == 0, pick.stderr
    assert [p.name for p in (tmp_path / "pick" / "se_mask").glob("*.png")] == ["01002.png"]
    best = json.loads((tmp_path / "pick" / "best.json").read_text())
    assert set(best) == {"t1", "t2", "modify", "dataset", "mode", "options", "max_objects", "tuned_on", "tuned_changes"}
    assert best["tuned_on"] == ["01000", "01001"]
    metrics = json.loads((tmp_path / "pick" / "metrics.json").read_text())
    assert metrics["thresholds"] == Thresholds.from_json(best).to_json()
