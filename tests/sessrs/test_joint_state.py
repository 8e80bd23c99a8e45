"""A saved joint search state is resumed only when it agrees with its own trace: an edited ``done`` (or round,
position, settings) after a kill starts the search again instead of returning a partial search as the result."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sessrs_cases import write_random_scenes

import sessrs.joint as joint
from rscommon.datasets import URBAN
from sessrs.inputs import pair_inputs
from sessrs.joint import joint_search, settings_from
from sessrs.modes import FAITHFUL
from sessrs.resume import state_disagreement
from sessrs.sweep_engine import ThresholdGrid
from sessrs.thresholds import Thresholds

GRID = ThresholdGrid((0.3, 0.7), (0.3, 0.8))
SEARCH = {"max_objects": 5, "grid": GRID, "classes": range(5), "options": FAITHFUL}
START = settings_from(Thresholds(t1={1: 0.5}, t2={1: 0.55}, modify=[1]), URBAN.num_classes)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = write_random_scenes(tmp_path_factory.mktemp("scenes"), range(100, 103))
    return pair_inputs(root / "pred", root / "sam", root / "gt")


def steps_of(state) -> list:
    return [{k: v for k, v in step.items() if k != "seconds"} for step in state.trace]


@pytest.fixture(scope="module")
def whole(scenes, tmp_path_factory):
    return joint_search(scenes, URBAN, START, tmp_path_factory.mktemp("whole"), **SEARCH)


def killed_after(scenes, folder, steps: int, monkeypatch) -> dict:
    """A search stopped after ``steps`` steps; returns its saved state."""
    step, calls = joint._step, []

    def interrupted(*args):
        if len(calls) == steps:
            raise KeyboardInterrupt
        calls.append(1)
        step(*args)

    monkeypatch.setattr(joint, "_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        joint_search(scenes, URBAN, START, folder, **SEARCH)
    monkeypatch.setattr(joint, "_step", step)
    return json.loads((folder / "joint_state.json").read_text())


@pytest.mark.parametrize("edit", [{"done": True}, {"done": True, "position": 0, "round": 1}, {"round": 7}])
def test_a_state_edited_after_a_kill_is_not_returned_as_the_result(scenes, whole, tmp_path, monkeypatch, capsys, edit):
    saved = killed_after(scenes, tmp_path, 2, monkeypatch)
    assert len(saved["trace"]) == 3 and not saved["done"] and len(whole.trace) > 3
    (tmp_path / "joint_state.json").write_text(json.dumps({**saved, **edit}))
    resumed = joint_search(scenes, URBAN, START, tmp_path, **SEARCH)
    assert "disagree with its trace of 2 steps" in capsys.readouterr().err
    assert steps_of(resumed) == steps_of(whole) and resumed.settings == whole.settings


def test_a_state_with_settings_other_than_its_trace_is_searched_again(scenes, whole, tmp_path, monkeypatch, capsys):
    saved = killed_after(scenes, tmp_path, 2, monkeypatch)
    saved["settings"][3] = {"t1": 0.3, "t2": 0.3, "refined": True}
    (tmp_path / "joint_state.json").write_text(json.dumps(saved))
    resumed = joint_search(scenes, URBAN, START, tmp_path, **SEARCH)
    assert "its settings disagree" in capsys.readouterr().err
    assert steps_of(resumed) == steps_of(whole)


def test_an_unedited_state_agrees_with_its_trace_at_every_step(scenes, whole, tmp_path, monkeypatch):
    for steps in range(1, len(whole.trace) - 1):
        saved = killed_after(scenes, tmp_path / str(steps), steps, monkeypatch)
        assert state_disagreement(saved, list(range(5))) is None
    assert state_disagreement(json.loads(json.dumps(whole.to_json())), list(range(5))) is None


@settings(max_examples=30, deadline=None)
@given(field=st.sampled_from(["done", "position", "round", "last_changed", "evaluations"]), delta=st.integers(1, 3))
def test_any_edited_bookkeeping_field_is_found(whole, field, delta):
    state = json.loads(json.dumps(whole.to_json()))
    value = state[field]
    state[field] = (not value) if isinstance(value, bool) else (value or 0) + delta
    assert field in state_disagreement(state, list(range(5)))
