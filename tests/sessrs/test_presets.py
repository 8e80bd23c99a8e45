"""Shipped presets: the published thresholds read back exactly, reproduced by our pick from the published sweep rows,
and applied without a sweep by ``get_best_t1_t2.py --thresholds preset:NAME`` (or a best.json)."""

import json
from pathlib import Path

import get_best_t1_t2
import numpy as np
import pytest

import sessrs
from rscommon.cli import run_main
from rscommon.datasets import POTSDAM, URBAN
from rscommon.files import InputError
from rscommon.labels import read_label_png
from sessrs.inputs import load_prepared, pair_inputs, select
from sessrs.modes import RefineOptions
from sessrs.presets import read_preset, thresholds_from_argument
from sessrs.steps import refine_prepared
from sessrs.sweep_engine import REFERENCE_GRID
from sessrs.thresholds import APPLY_MAX_OBJECTS, Application, applied_with

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "tests" / "fixtures" / "sessrs_reference" / "scenes"
PUBLISHED_ROWS = REPO / "tests" / "fixtures" / "sessrs_published" / "urban_unetformer_sam_rows.json"
NAME = "reference-urban-unetformer-sam"
# GeoSeg/fig_results/Urban/sessrs_contrast_0.7/modify_sessrs_sam_t1_t2_all.txt of qycools/SESSRS at abf53d5.
PUBLISHED_T1 = {0: 0.7, 1: 0.5, 2: 0.5, 3: 0.7, 4: 0.5, 5: 0.9, 6: 0.5, 7: 1.0}
PUBLISHED_T2 = {0: 0.55, 1: 0.55, 2: 0.85, 3: 0.55, 4: 0.65, 5: 0.55, 6: 0.6, 7: 1.0}


def published_sweep() -> dict:
    """The published sweep rows as a sweep.json (only the fields the pick reads)."""
    published = json.loads(PUBLISHED_ROWS.read_text())
    sweeps = {
        cls: [{"t1": t1, "t2": t2, "mIoU": miou} for t1, t2, miou in rows] for cls, rows in published["rows"].items()
    }
    return {"classes": list(URBAN.classes), "baseline": {"mIoU": published["baseline_mIoU"]}, "sweeps": sweeps}


def test_the_preset_reads_back_the_published_values():
    thresholds = sessrs.preset(NAME)
    assert dict(thresholds.t1) == PUBLISHED_T1 and dict(thresholds.t2) == PUBLISHED_T2
    # The file lists modify_category [0..6]; the reference applies the classes with t1 <= 0.7, without forest (5).
    assert thresholds.modify == (0, 1, 2, 3, 4, 6)
    record = read_preset(NAME).record
    assert record["provenance"]["commit"] == "abf53d5fa29aeb11a97316b8f161f5bab1001108"
    assert (record["reported"]["unrefined"]["mIoU"], record["reported"]["refined"]["mIoU"]) == (52.74, 53.78)
    assert record["tuned_changes"] is None and record["tuned_changes_note"]
    assert sessrs.presets() == {NAME: record["description"]}


def test_our_pick_on_the_published_sweep_rows_reproduces_the_preset():
    sweep = published_sweep()
    assert all([(r["t1"], r["t2"]) for r in rows] == list(REFERENCE_GRID.pairs) for rows in sweep["sweeps"].values())
    assert sessrs.pick_thresholds(sweep, URBAN, 0.7) == sessrs.preset(NAME)
    assert sessrs.pick_thresholds(sweep, URBAN, "all").modify == (0, 1, 2, 3, 4, 5, 6)


def test_an_unknown_preset_is_one_line_naming_the_known_ones():
    with pytest.raises(InputError, match=f"unknown preset 'urban'; known presets: {NAME}$"):
        sessrs.preset("urban")


def test_an_argument_names_a_preset_or_a_best_json(tmp_path):
    thresholds, message = thresholds_from_argument(f"preset:{NAME}", "Urban")
    assert thresholds == sessrs.preset(NAME)
    assert "UNetFormer" in message and "may differ" in message and "52.74 -> 53.78" in message
    with pytest.raises(InputError, match=f"preset {NAME} was tuned for Urban, not potsdam"):
        thresholds_from_argument(f"preset:{NAME}", POTSDAM)
    best = tmp_path / "best.json"
    best.write_text(json.dumps({**thresholds.to_json(), "tuned_on": ["a"], "tuned_changes": {"road": {"to": 0.1}}}))
    assert thresholds_from_argument(str(best), URBAN) == (thresholds, None)
    with pytest.raises(InputError, match="missing.json: file not found"):
        thresholds_from_argument(str(tmp_path / "missing.json"), URBAN)


@pytest.fixture
def split(tmp_path):
    """A split refining two fixture scenes (one of them not square)."""
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"tune": ["01000"], "eval": ["01001", "01008"]}))
    return path


def apply_only(split: Path, thresholds: str, out: Path, *extra: str) -> list[str]:
    return [
        "--thresholds",
        thresholds,
        "--pred-dir",
        str(SCENES / "pred"),
        "--sam-dir",
        str(SCENES / "sam"),
        "--gt-dir",
        str(SCENES / "gt"),
        "--split",
        str(split),
        "--dataset",
        "Urban",
        "--out",
        str(out),
        "-n",
        "1",
        *extra,
    ]


def test_a_preset_is_applied_without_a_sweep_and_says_what_it_was_tuned_for(split, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_main(get_best_t1_t2.main, apply_only(split, f"preset:{NAME}", out)) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"preset {NAME}: thresholds tuned for LoveDA Urban") and "may differ" in printed
    preset = sessrs.preset(NAME)
    applied = Application("Urban", RefineOptions.faithful(), sessrs.APPLY_MAX_OBJECTS).to_json()
    assert json.loads((out / "best.json").read_text()) == {**preset.to_json(), **applied, "preset": NAME}
    assert json.loads((out / "metrics.json").read_text())["thresholds"] == preset.to_json()
    assert sorted(path.name for path in (out / "se_mask").glob("*.png")) == ["01001.png", "01008.png"]
    for sample in select(pair_inputs(SCENES / "pred", SCENES / "sam", None), ["01001", "01008"], "test"):
        expected = refine_prepared(
            load_prepared(sample, URBAN),
            preset.t1_array(8),
            preset.t2_array(8),
            preset.modify,
            max_objects=APPLY_MAX_OBJECTS,
        )
        assert np.array_equal(read_label_png(out / "se_mask" / f"{sample.stem}.png"), expected)
    again = tmp_path / "again"
    assert run_main(get_best_t1_t2.main, apply_only(split, str(out / "best.json"), again)) == 0
    assert "tuned for" not in capsys.readouterr().out
    assert json.loads((again / "best.json").read_text()) == {**preset.to_json(), **applied}
    assert (again / "metrics.json").read_text() == (out / "metrics.json").read_text()


def test_bad_apply_only_arguments_are_one_line(split, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_main(get_best_t1_t2.main, apply_only(split, "preset:nope", out)) == 2
    assert capsys.readouterr().err == f"error: unknown preset 'nope'; known presets: {NAME}\n"
    assert not out.exists()
    with pytest.raises(SystemExit):
        get_best_t1_t2.parse_args(apply_only(split, f"preset:{NAME}", out, "--sweep", "sweep.json"))
    assert "not with --sweep, -d, --search, --select or --method" in capsys.readouterr().err


def test_a_preset_records_how_it_is_applied_and_refuses_another_mode() -> None:
    """The shipped preset is the reference's faithful pick applied with 5 objects: that is what applying it uses,
    and another mode or limit is refused in one line, as for any best.json that records them."""
    thresholds = sessrs.preset(NAME)
    assert applied_with(thresholds, "Urban", None, None) == (RefineOptions.faithful(), 5)
    with pytest.raises(InputError, match="tuned in faithful mode, applied in improved mode"):
        applied_with(thresholds, "Urban", RefineOptions.improved(), None)
    with pytest.raises(InputError, match="tuned with max_objects 5, applied with 10"):
        applied_with(thresholds, "Urban", None, 10)
