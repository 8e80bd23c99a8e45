"""The demo pipeline end to end on a cut-down sample: one LoveDA tile cut into two 128 x 128 crops, the sample
UNetFormer trained for two batches from random weights (plumbing, not accuracy), weight-free objects, sweep,
pick, apply, the peers and the report. Checks the quiet terminal and its closing table, that the report and its
figures exist and agree with the metrics JSON files and with the label maps written to disk, and that a second
run with the same seed gives the same figures."""

from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from demo_html import check_report_in_browser, find_chromium, parse_html

from rscommon.datasets import get_dataset
from rscommon.labels import read_label_png
from rscommon.metrics import confusion_matrix
from rspipeline.demo import DemoSettings, run_demo

pytestmark = pytest.mark.slow
SPEC = get_dataset("Urban")
FIGURES = ("OA", "mIoU", "mF1", "mPA")
# Each SESSRS row and the folder of its outputs under a fold: the per-class pick, the joint search, improved mode.
SESSRS_ROWS = {"sessrs": ".", "sessrs_joint": "joint", "sessrs_improved": "improved"}
# The peers that tune nothing, in the tables' order: SSA's rule and the thresholded majority vote beside DenseCRF.
FIXED_PEERS = ("unrefined", "ssa_vote", "majority_vote", "densecrf")
STAGES = ("tiles", "train", "predict", "objects", "SESSRS", "peers", "panels")
# Keys whose values differ between two runs of the same demo by nature: clocks and the output folder.
RUN_SPECIFIC = {"generated_utc", "wall_time_s", "timings_s"}


def cut_down(out: Path) -> DemoSettings:
    return DemoSettings(
        out=out,
        sets=("loveda",),
        tiles=1,
        crop=128,
        crops_per_tile=2,
        train_epochs=1,
        train_batches=2,
        val_batches=1,
        objects="regions",
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo")
    terminal = io.StringIO()
    assert run_demo(cut_down(out), terminal=terminal) == out / "report.html"
    return out, terminal.getvalue()


@pytest.fixture(scope="module")
def demo(demo_run: tuple[Path, str]) -> Path:
    return demo_run[0]


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def nan_as_none(value: float | None) -> float | None:
    """Undefined figures are null in the JSON files."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def rows_by_peer(group: dict, protocol: str) -> dict[str, dict]:
    (entry,) = [p for p in group["protocols"] if p["key"] == protocol]
    return {row["peer"]: row for row in entry["rows"]}


def test_terminal_shows_one_line_per_stage_then_the_summary_table(demo_run: tuple[Path, str]) -> None:
    out, terminal = demo_run
    lines = [line.rsplit("\r", 1)[-1].rstrip() for line in terminal.split("\n")[:-1]]
    assert len(lines) < 40, terminal
    stage_lines = [line for line in lines if line.startswith("loveda: ")]
    assert [next(s for s in STAGES if s in line) for line in stage_lines] == list(STAGES)
    assert all(line.endswith(" s") for line in stage_lines)
    assert lines[-1] == str(out / "report.html")
    assert not any(word in terminal for word in ("Epoch", "Lightning", "Warning", "NaN", "nan", "$ "))
    (group,) = load(out / "report.json")["groups"]
    for row in group["headline"]:
        (line,) = [line for line in lines if line.startswith(row["label"])]
        expected = [
            f"{row[p][f]:.2f}" if row[p][f] is not None else "n/a"
            for p in ("reference", "held_out")
            for f in ("mIoU", "OA")
        ]
        cells = line[len(row["label"]) :].split()
        assert [c for c in cells if not c.startswith(("+", "-"))] == expected
    refined = "; ".join(
        f"{heading}: {', '.join(group['sessrs_refined'][key]) or 'none'}"
        for heading, key in (("reference", "reference"), ("held-out", "held_out"))
    )
    assert f"classes the per-class pick refined: {refined}" in lines
    train_log = (out / "logs" / "loveda-train.log").read_text()
    assert "train_supervision.py" in train_log and "Epoch" in train_log


def test_report_html_parses_and_every_image_exists(demo: Path) -> None:
    parser = parse_html((demo / "report.html").read_text(encoding="utf-8"))
    assert len(parser.sources) >= 2
    assert all((demo / src).is_file() for src in parser.sources), parser.sources
    report = load(demo / "report.json")
    (group,) = report["groups"]
    assert {f"panels/loveda_{t}.png" for t in group["tiles"]} <= set(parser.sources)
    assert len(group["heatmaps"]) == 7 and all(h["image"] in parser.sources for h in group["heatmaps"])
    assert "regions" in report["object_source"] and "NOT SAM" in report["object_source"]
    text = (demo / "report.html").read_text(encoding="utf-8")
    assert text.index("Objects") < text.index('class="headline"') < text.index("Details")
    labels = {row["method"]: row["label"] for row in group["headline"]}
    for protocol in group["protocols"]:
        for row in protocol["rows"]:
            assert f'<th colspan="2">{html.escape(labels[row["peer"]])}</th>' in text
            assert f"{row['mIoU']:.2f}" in text and f"{row['OA']:.2f}" in text


@pytest.mark.skipif(find_chromium() is None, reason="Chromium not found on PATH (Debian: apt-get install chromium)")
def test_report_reads_in_a_real_browser(demo: Path) -> None:
    """No console error, every heatmap and panel displayed, the headline figures those of report.json."""
    state = check_report_in_browser(demo / "report.html", find_chromium())
    assert len(state["images"]) == 7 + 2
    assert len(state["figures"]) == len(FIXED_PEERS + tuple(SESSRS_ROWS)) * 2 * 2


def test_report_json_figures_equal_metrics_json(demo: Path) -> None:
    (group,) = load(demo / "report.json")["groups"]
    metrics = load(demo / "metrics.json")["loveda"]["protocols"]
    assert [p["key"] for p in group["protocols"]] == ["reference", "held_out"]
    for protocol in ("reference", "held_out"):
        rows = rows_by_peer(group, protocol)
        assert list(rows) == [*FIXED_PEERS, *SESSRS_ROWS]
        for peer, row in rows.items():
            stored = {k: v for k, v in metrics[protocol][peer].items() if k != "confusion_matrix"}
            assert row == stored
            headline = next(h for h in group["headline"] if h["method"] == peer)
            assert headline[protocol] == {"mIoU": row["mIoU"], "OA": row["OA"]}


def test_metrics_json_matches_written_label_maps(demo: Path) -> None:
    """The pooled confusion matrices are those of the written maps against the ground truth: the peers' in
    ``refined/<peer>/``, SESSRS's in each fold's ``se_mask/`` (the SESSRS stage's own application)."""
    metrics = load(demo / "metrics.json")["loveda"]
    folds = {p["key"]: p["folds"] for p in load(demo / "report.json")["groups"][0]["protocols"]}

    def refined_map(protocol: str, peer: str, tile: str) -> Path:
        if peer not in SESSRS_ROWS:
            return demo / "loveda" / "refined" / peer / f"{tile}.png"
        (fold,) = [f for f in folds[protocol] if tile in f["eval"]]
        return demo / "loveda" / protocol / fold["name"] / SESSRS_ROWS[peer] / "se_mask" / f"{tile}.png"

    for protocol, peer in (
        ("reference", "unrefined"),
        ("reference", "ssa_vote"),
        ("reference", "majority_vote"),
        ("reference", "densecrf"),
        ("reference", "sessrs"),
        ("held_out", "sessrs"),
        ("held_out", "sessrs_joint"),
        ("held_out", "sessrs_improved"),
    ):
        matrix = sum(
            confusion_matrix(
                read_label_png(demo / "loveda" / "gt" / f"{tile}.png"),
                read_label_png(refined_map(protocol, peer, tile)),
                SPEC.num_classes,
            )
            for tile in metrics["tiles"]
        )
        np.testing.assert_array_equal(matrix, np.array(metrics["protocols"][protocol][peer]["confusion_matrix"]))
    assert not (demo / "loveda" / "refined" / "sessrs").exists()


def test_sessrs_row_is_the_pick_and_apply_stage_metrics(demo: Path) -> None:
    """Each SESSRS row is the SESSRS stage's own application (its metrics.json), not a second refinement."""
    (group,) = load(demo / "report.json")["groups"]
    rows = rows_by_peer(group, "reference")
    for row, folder in SESSRS_ROWS.items():
        stage = load(demo / "loveda" / "reference" / "all" / folder / "metrics.json")
        for figure in FIGURES:
            assert rows["unrefined"][figure] == nan_as_none(stage["unrefined"][figure])
            assert rows[row][figure] == nan_as_none(stage["refined"][figure])
        assert rows[row]["IoU"] == {name: nan_as_none(v) for name, v in stage["refined"]["IoU"].items()}


def test_held_out_folds_tune_elsewhere_and_apply_their_own_pick(demo: Path) -> None:
    (group,) = load(demo / "report.json")["groups"]
    (held_out,) = [p for p in group["protocols"] if p["key"] == "held_out"]
    assert sorted(t for fold in held_out["folds"] for t in fold["eval"]) == sorted(group["tiles"])
    for fold in held_out["folds"]:
        assert not set(fold["tune"]) & set(fold["eval"])
        best = load(demo / "loveda" / "held_out" / fold["name"] / "best.json")
        assert fold["modify"] == [SPEC.classes[c] for c in best["modify"]]
        sweep = load(demo / "loveda" / "held_out" / fold["name"] / "sweep" / "sweep.json")
        assert sweep["images"] == fold["tune"]
    assert group["sessrs_refined"]["held_out"] == [
        c for c in SPEC.classes if any(c in fold["modify"] for fold in held_out["folds"])
    ]
    reference, held = rows_by_peer(group, "reference"), rows_by_peer(group, "held_out")
    for peer in FIXED_PEERS:
        assert reference[peer] == held[peer]


def figures_of(value: object, path: str = "") -> dict[str, object]:
    """Every leaf of a JSON document by its path, leaving out what differs by nature between two runs."""
    if isinstance(value, dict):
        return {
            k: v
            for key, item in value.items()
            if key not in RUN_SPECIFIC
            for k, v in figures_of(item, f"{path}/{key}").items()
        }
    if isinstance(value, list):
        return {k: v for index, item in enumerate(value) for k, v in figures_of(item, f"{path}/{index}").items()}
    return {path: value}


def test_same_seed_same_figures(demo: Path, tmp_path: Path) -> None:
    """The same cut-down demo run again into another folder gives every figure of report.json, metrics.json and
    the SESSRS stage's own metrics.json and best.json identically (training included)."""
    again = tmp_path / "again"
    run_demo(cut_down(again), terminal=io.StringIO())
    files = [
        "report.json",
        "metrics.json",
        *(str(p.relative_to(demo)) for p in demo.glob("loveda/**/metrics.json")),
        *(str(p.relative_to(demo)) for p in demo.glob("loveda/**/best.json")),
    ]
    assert len(files) >= 2 + 3 * 3 * 2
    differing = {}
    for name in files:
        first, second = figures_of(load(demo / name)), figures_of(load(again / name))
        differing.update(
            {
                f"{name}{key}": (first.get(key), second.get(key))
                for key in first.keys() | second.keys()
                if first.get(key) != second.get(key)
            }
        )
    assert not differing, differing
