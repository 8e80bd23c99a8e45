"""The demo pipeline end to end on a cut-down sample: one LoveDA tile cut into two 128 x 128 crops, the sample
UNetFormer trained for two batches from random weights (plumbing, not accuracy), weight-free objects, sweep,
pick, apply, the peers and the report. Checks that the report and its figures exist and agree with the metrics
JSON files and with the label maps written to disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from demo_html import parse_html

from rscommon.datasets import get_dataset
from rscommon.labels import read_label_png
from rscommon.metrics import confusion_matrix
from rspipeline.demo import DemoSettings, run_demo

pytestmark = pytest.mark.slow
SPEC = get_dataset("Urban")
FIGURES = ("OA", "mIoU", "mF1", "mPA")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    settings = DemoSettings(out=out, sets=("loveda",), tiles=1, crop=128, crops_per_tile=2, train_epochs=1,
                            train_batches=2, val_batches=1, objects="regions")
    assert run_demo(settings) == out / "report.html"
    return out


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def nan_as_none(value: float | None) -> float | None:
    """The SESSRS stage writes undefined figures as NaN, the report as null."""
    return None if value is None or np.isnan(value) else value


def rows_by_peer(group: dict, protocol: str) -> dict[str, dict]:
    (entry,) = [p for p in group["protocols"] if p["key"] == protocol]
    return {row["peer"]: row for row in entry["rows"]}


def test_report_html_parses_and_every_image_exists(demo: Path) -> None:
    parser = parse_html((demo / "report.html").read_text(encoding="utf-8"))
    assert len(parser.sources) >= 2
    assert all((demo / src).is_file() for src in parser.sources), parser.sources
    report = load(demo / "report.json")
    (group,) = report["groups"]
    assert {f"panels/loveda_{t}.png" for t in group["tiles"]} <= set(parser.sources)
    assert len(group["heatmaps"]) == 7 and all(h["image"] in parser.sources for h in group["heatmaps"])
    assert "regions" in report["object_source"] and "NOT SAM" in report["object_source"]
    html = (demo / "report.html").read_text(encoding="utf-8")
    for protocol in group["protocols"]:
        for row in protocol["rows"]:
            assert f'<th colspan="2">{row["peer"]}</th>' in html
            assert f"{row['mIoU']:.2f}" in html and f"{row['OA']:.2f}" in html


def test_report_json_figures_equal_metrics_json(demo: Path) -> None:
    (group,) = load(demo / "report.json")["groups"]
    metrics = load(demo / "metrics.json")["loveda"]["protocols"]
    assert [p["key"] for p in group["protocols"]] == ["reference", "held_out"]
    for protocol in ("reference", "held_out"):
        rows = rows_by_peer(group, protocol)
        assert list(rows) == ["unrefined", "majority_vote", "densecrf", "sessrs"]
        for peer, row in rows.items():
            stored = {k: v for k, v in metrics[protocol][peer].items() if k != "confusion_matrix"}
            assert row == stored


def test_metrics_json_matches_written_label_maps(demo: Path) -> None:
    """The pooled confusion matrices are those of the refined PNGs against the ground truth."""
    metrics = load(demo / "metrics.json")["loveda"]
    for protocol, peer in (("reference", "unrefined"), ("reference", "densecrf"), ("reference", "sessrs"),
                           ("held_out", "sessrs")):
        matrix = sum(
            confusion_matrix(read_label_png(demo / "loveda" / "gt" / f"{tile}.png"),
                             read_label_png(demo / "loveda" / "refined" / protocol / peer / f"{tile}.png"),
                             SPEC.num_classes)
            for tile in metrics["tiles"]
        )
        np.testing.assert_array_equal(matrix, np.array(metrics["protocols"][protocol][peer]["confusion_matrix"]))


def test_sessrs_peer_agrees_with_the_pick_and_apply_stage(demo: Path) -> None:
    """The SESSRS peer and the SESSRS stage's own application give the same maps and the same figures."""
    (group,) = load(demo / "report.json")["groups"]
    stage = load(demo / "loveda" / "reference" / "all" / "metrics.json")
    rows = rows_by_peer(group, "reference")
    for figure in FIGURES:
        assert rows["unrefined"][figure] == nan_as_none(stage["unrefined"][figure])
        assert rows["sessrs"][figure] == nan_as_none(stage["refined"][figure])
    assert rows["sessrs"]["IoU"] == {name: nan_as_none(v) for name, v in stage["refined"]["IoU"].items()}
    for tile in group["tiles"]:
        np.testing.assert_array_equal(
            read_label_png(demo / "loveda" / "refined" / "reference" / "sessrs" / f"{tile}.png"),
            read_label_png(demo / "loveda" / "reference" / "all" / "se_mask" / f"{tile}.png"),
        )


def test_held_out_folds_tune_elsewhere_and_apply_their_own_pick(demo: Path) -> None:
    (group,) = load(demo / "report.json")["groups"]
    (held_out,) = [p for p in group["protocols"] if p["key"] == "held_out"]
    assert sorted(t for fold in held_out["folds"] for t in fold["eval"]) == sorted(group["tiles"])
    for fold in held_out["folds"]:
        assert not set(fold["tune"]) & set(fold["eval"])
        best = load(demo / "loveda" / "held_out" / fold["name"] / "best.json")
        assert fold["modify"] == [SPEC.classes[c] for c in best["modify"]]
        for tile in fold["eval"]:
            np.testing.assert_array_equal(
                read_label_png(demo / "loveda" / "refined" / "held_out" / "sessrs" / f"{tile}.png"),
                read_label_png(demo / "loveda" / "held_out" / fold["name"] / "se_mask" / f"{tile}.png"),
            )
    reference, held = rows_by_peer(group, "reference"), rows_by_peer(group, "held_out")
    for peer in ("unrefined", "majority_vote", "densecrf"):
        assert reference[peer] == held[peer]
