"""Nothing reused unchecked: a refined map edited after it was written, a joint search state whose figures were
edited or that is damaged, and a damaged sweep part are named and computed again; --restart recomputes all."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from sessrs_cases import write_random_scenes

import sessrs.application as application
import sessrs.sweep as sweep_module
from rscommon.cli import run_main
from rscommon.datasets import URBAN
from rscommon.labels import read_label_png, write_label_png
from sessrs.api import apply_thresholds
from sessrs.inputs import pair_inputs
from sessrs.joint import joint_search, settings_from
from sessrs.modes import FAITHFUL
from sessrs.sweep_engine import ThresholdGrid
from sessrs.thresholds import Thresholds

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "SESSRS"))
import get_best_t1_t2  # noqa: E402
import sessrs_t1_t2  # noqa: E402

GRID = ThresholdGrid((0.3, 0.5, 0.7), (0.3, 0.55, 0.8))
THRESHOLDS = Thresholds(t1={1: 0.5, 2: 0.7}, t2={1: 0.55, 2: 0.8}, modify=[1, 2])
START = settings_from(THRESHOLDS, URBAN.num_classes)


@pytest.fixture
def scenes(tmp_path: Path) -> Path:
    return write_random_scenes(tmp_path, range(100, 103))


def counting(monkeypatch, module, name: str) -> list:
    """Calls of ``module.name`` (by image stem) from now on."""
    calls, original = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda job: calls.append(job[0].stem) or original(job))
    return calls


def search(scenes: Path):
    return joint_search(
        pair_inputs(scenes / "pred", scenes / "sam", scenes / "gt"),
        URBAN,
        START,
        scenes / "joint",
        max_objects=5,
        grid=GRID,
        options=FAITHFUL,
        classes=range(5),
    )


def test_an_edited_refined_map_is_named_and_computed_again(scenes, capsys, monkeypatch):
    out = scenes / "refined"
    first = apply_thresholds(THRESHOLDS, scenes / "pred", scenes / "sam", out, "Urban", gt_dir=scenes / "gt")
    written = read_label_png(out / "s1.png")
    write_label_png(out / "s1.png", np.full_like(written, 3), URBAN)
    capsys.readouterr()
    calls = counting(monkeypatch, application, "_refine_one")
    again = apply_thresholds(THRESHOLDS, scenes / "pred", scenes / "sam", out, "Urban", gt_dir=scenes / "gt")
    assert f"{out / 's1.png'}: changed since it was written" in capsys.readouterr().err
    assert calls == ["s1"] and json.dumps(again) == json.dumps(first)  # NaN of absent classes compare by text
    assert np.array_equal(read_label_png(out / "s1.png"), written)


def test_a_joint_state_with_edited_figures_is_said_and_searched_again(scenes, capsys):
    searched = search(scenes)
    path = scenes / "joint" / "joint_state.json"
    state = json.loads(path.read_text())
    state["mIoU"], state["trace"][-1]["mIoU"] = 0.99, 99.0
    path.write_text(json.dumps(state))
    capsys.readouterr()
    again = search(scenes)
    assert f"its saved mIoU 99.00 is not that of its settings ({100 * searched.miou:.2f})" in capsys.readouterr().err
    assert again.miou == searched.miou and again.settings == searched.settings


@pytest.mark.parametrize("content", ["[1, 2]", '{"key": 1}', "{"])
def test_a_damaged_joint_state_is_named_and_searched_again(scenes, capsys, content):
    searched = search(scenes)
    (scenes / "joint" / "joint_state.json").write_text(content)
    capsys.readouterr()
    again = search(scenes)
    captured = capsys.readouterr()
    assert "joint_state.json" in captured.err + captured.out
    assert again.miou == searched.miou and again.settings == searched.settings


def run(module, *args) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = run_main(module.main, [str(arg) for arg in args])
    return code, stderr.getvalue()


def test_a_damaged_sweep_part_is_named_and_computed_again_and_restart_recomputes_all(scenes, monkeypatch):
    args = [
        "--pred-dir",
        scenes / "pred",
        "--sam-dir",
        scenes / "sam",
        "--gt-dir",
        scenes / "gt",
        "--dataset",
        "Urban",
        "--classes",
        1,
        2,
        "--t1-values",
        0.5,
        "--t2-values",
        0.6,
        "--out",
        scenes / "sweep",
        "-n",
        1,
    ]
    assert run(sessrs_t1_t2, *args)[0] == 0
    first = json.loads((scenes / "sweep" / "sweep.json").read_text())
    (scenes / "sweep" / "parts" / "s2.npz").write_bytes(b"not a part")
    calls = counting(monkeypatch, sweep_module, "_sweep_sample")
    code, stderr = run(sessrs_t1_t2, *args)
    assert code == 0 and calls == ["s2"] and "s2.npz: unreadable sweep part" in stderr
    assert run(sessrs_t1_t2, *args, "--restart")[0] == 0
    assert sorted(calls) == ["s0", "s1", "s2", "s2"]
    assert json.loads((scenes / "sweep" / "sweep.json").read_text()) == first
    pick = [
        "--pred-dir",
        scenes / "pred",
        "--sam-dir",
        scenes / "sam",
        "--gt-dir",
        scenes / "gt",
        "--dataset",
        "Urban",
        "--sweep",
        scenes / "sweep" / "sweep.json",
        "-t",
        "all",
        "--out",
        scenes / "chosen",
        "-n",
        1,
    ]
    refined = counting(monkeypatch, application, "_refine_one")
    assert run(get_best_t1_t2, *pick)[0] == 0 and run(get_best_t1_t2, *pick)[0] == 0
    assert sorted(refined) == ["s0", "s1", "s2"]
    assert run(get_best_t1_t2, *pick, "--restart")[0] == 0
    assert sorted(refined) == ["s0", "s0", "s1", "s1", "s2", "s2"]
