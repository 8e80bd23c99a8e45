"""The demo report on synthetic inputs: panel drawing, heatmaps from a sweep.json, and the HTML/JSON pair."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from demo_html import parse_html
from image_files import opened
from report_cases import SPEC, SWEEP, report_of, synthetic_tile

from rspipeline.report import (
    CHANGE_COLOURS,
    HEADER_HEIGHT,
    draw_changes,
    heatmap_from_sweep,
    render_html,
    save_tile_panel,
    write_report,
)


def test_draw_changes_tells_fixed_broken_and_other() -> None:
    gt = np.array([[1, 1, 2, 6]])
    pred = np.array([[2, 1, 0, 0]])
    refined = np.array([[1, 2, 1, 1]])
    canvas = draw_changes(pred, refined, gt, ignore_index=6)
    assert tuple(canvas[0, 0]) == CHANGE_COLOURS["fixed"]
    assert tuple(canvas[0, 1]) == CHANGE_COLOURS["broken"]
    assert tuple(canvas[0, 2]) == CHANGE_COLOURS["other"]
    assert tuple(canvas[0, 3]) == CHANGE_COLOURS["other"]
    same = draw_changes(pred, pred, gt, ignore_index=6)
    assert not same.any()


def test_save_tile_panel_writes_six_views_and_counts(tmp_path: Path) -> None:
    tile = synthetic_tile()
    counts = save_tile_panel(tmp_path / "panels" / "t.png", spec=SPEC, **tile)
    panel = opened(tmp_path / "panels" / "t.png")
    assert panel.height == 256 + HEADER_HEIGHT
    assert panel.width == 6 * 256 + 5 * 4
    assert counts == {"changed_pixels": 34, "fixed_pixels": 25, "broken_pixels": 9}
    assert not list((tmp_path / "panels").glob(".*"))


def test_save_tile_panel_rejects_size_mismatch(tmp_path: Path) -> None:
    tile = synthetic_tile()
    tile["refined"] = tile["refined"][:-1]
    with pytest.raises(ValueError, match="differ in size"):
        save_tile_panel(tmp_path / "t.png", spec=SPEC, **tile)


def test_heatmap_from_sweep_grid_matches_rows() -> None:
    sweep = json.loads(SWEEP.read_text())
    heatmap = heatmap_from_sweep(sweep, 1, "building")
    assert heatmap["t1"] == [0.5, 0.6, 0.7, 0.8, 0.9]
    assert len(heatmap["t2"]) == 9 and all(len(row) == 9 for row in heatmap["delta_miou"])
    for row in sweep["sweeps"]["1"]:
        cell = heatmap["delta_miou"][heatmap["t1"].index(row["t1"])][heatmap["t2"].index(row["t2"])]
        assert cell == pytest.approx(row["mIoU"] - sweep["baseline"]["mIoU"], abs=0.006)


def test_write_report_html_parses_and_references_existing_images(tmp_path: Path) -> None:
    save_tile_panel(tmp_path / "panels" / "t.png", spec=SPEC, **synthetic_tile())
    heatmap = heatmap_from_sweep(json.loads(SWEEP.read_text()), 1, "building")
    report = report_of("panels/t.png", heatmap)
    html_path, json_path = write_report(tmp_path, report)
    parser = parse_html(html_path.read_text(encoding="utf-8"))
    assert parser.sources == ["panels/t.png"]
    assert all((tmp_path / src).is_file() for src in parser.sources)
    assert json.loads(json_path.read_text()) == report
    text = html_path.read_text(encoding="utf-8")
    assert "demo &lt;test&gt;" in text and "a &amp; b" in text
    assert "80.50" in text and "n/a" in text
    assert '82.00 <span class="up">(+1.50)</span>' in text
    assert '80.25 <span class="down">(-0.75)</span>' in text
    assert '<th colspan="2">SESSRS (per-class pick)</th>' in text
    assert f"{heatmap['delta_miou'][0][0]:+.2f}" in text


def test_write_report_refuses_missing_images(tmp_path: Path) -> None:
    heatmap = heatmap_from_sweep(json.loads(SWEEP.read_text()), 1, "building")
    with pytest.raises(FileNotFoundError, match="panels/nowhere.png"):
        write_report(tmp_path, report_of("panels/nowhere.png", heatmap))
    assert not (tmp_path / "report.html").exists()


def test_render_html_embeds_heatmap_picture_when_given() -> None:
    heatmap = heatmap_from_sweep(json.loads(SWEEP.read_text()), 2, "road", image="sweep/heatmap_road.png")
    assert 'src="sweep/heatmap_road.png"' in render_html(report_of("p.png", heatmap))


def test_report_opens_with_setup_missing_weights_and_headline(tmp_path: Path) -> None:
    heatmap = heatmap_from_sweep(json.loads(SWEEP.read_text()), 2, "road")
    text = render_html(report_of("p.png", heatmap))
    setup, headline, details = (text.index(marker) for marker in ('class="setup"', 'class="headline"', "Details"))
    assert setup < headline < details
    assert text.count('class="missing"') == 1 and "https://example.org/sam_hq_vit_tiny.pth" in text
    assert (
        'data-method="sessrs" data-protocol="reference" data-figure="mIoU">82.00</span> <span class="up">(+1.50)</span>'
    ) in text
    assert 'data-method="sessrs" data-protocol="reference" data-figure="OA">n/a</span></td>' in text
    assert 'data-method="unrefined" data-protocol="reference" data-figure="mIoU">80.50</span></td>' in text
    assert "Classes the SESSRS per-class pick refined: reference: building" in text
