"""The demo report as people see it: rendered by headless Chromium, it loads without console errors, every image
is displayed, and the headline figures on the page are those of report.json. Skipped only without Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from demo_html import check_report_in_browser, find_chromium
from report_cases import SPEC, SWEEP, report_of, synthetic_tile

from rspipeline.report import heatmap_from_sweep, save_tile_panel, write_report

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not found on PATH (Debian: apt-get install chromium)"
)


def synthetic_report(out: Path, heatmap_picture: bytes | None = None) -> Path:
    """A report with one tile panel and one heatmap picture (``heatmap_picture`` overrides its PNG bytes)."""
    save_tile_panel(out / "panels" / "t.png", spec=SPEC, **synthetic_tile())
    picture = out / "sweep" / "heatmap_road.png"
    picture.parent.mkdir()
    picture.write_bytes(heatmap_picture or (out / "panels" / "t.png").read_bytes())
    heatmap = heatmap_from_sweep(json.loads(SWEEP.read_text()), 2, "road", image="sweep/heatmap_road.png")
    html_path, _ = write_report(out, report_of("panels/t.png", heatmap))
    return html_path


def test_report_renders_in_chromium_with_its_figures_and_images(tmp_path: Path) -> None:
    state = check_report_in_browser(synthetic_report(tmp_path), CHROMIUM)
    assert [image["src"] for image in state["images"]] == ["sweep/heatmap_road.png", "panels/t.png"]
    assert len(state["figures"]) == 4


def test_browser_check_sees_an_image_that_does_not_display(tmp_path: Path) -> None:
    """The check can fail: a referenced file that is not a decodable image shows with no natural width."""
    html_path = synthetic_report(tmp_path, heatmap_picture=b"not a png")
    with pytest.raises(AssertionError, match="image not displayed: sweep/heatmap_road.png"):
        check_report_in_browser(html_path, CHROMIUM)


def test_browser_check_sees_figures_that_differ_from_report_json(tmp_path: Path) -> None:
    html_path = synthetic_report(tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    report["groups"][0]["headline"][1]["reference"]["mIoU"] = 99.0
    (tmp_path / "report.json").write_text(json.dumps(report))
    with pytest.raises(AssertionError):
        check_report_in_browser(html_path, CHROMIUM)


def test_browser_check_sees_a_failed_load_in_the_console(tmp_path: Path) -> None:
    html_path = synthetic_report(tmp_path)
    (tmp_path / "panels" / "t.png").unlink()
    with pytest.raises(AssertionError, match="ERR_FILE_NOT_FOUND"):
        check_report_in_browser(html_path, CHROMIUM)
