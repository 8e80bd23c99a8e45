"""The demo's data preparation, evaluation protocols, object choice and quiet terminal (no model, no SAM: fast)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from image_files import opened, pixels

from geoseg.datasets.labels import loveda_to_geoseg
from rscommon.labels import read_label_png
from rspipeline import demo_cli
from rspipeline.demo import DemoSettings
from rspipeline.demo.objects import choose_objects
from rspipeline.demo.protocols import protocol_folds
from rspipeline.demo.samples import SAMPLE_SETS, Workspace, crop_windows, prepare_set

REAL = Path(__file__).resolve().parents[2] / "data" / "real_samples"


def test_reference_fold_tunes_on_the_reported_tiles() -> None:
    folds = protocol_folds(["a", "b", "c"])
    (reference,) = folds["reference"]
    assert reference.tune == reference.evaluate == ("a", "b", "c")


def test_held_out_folds_never_tune_on_the_tile_they_report() -> None:
    folds = protocol_folds(["a", "b", "c"])["held_out"]
    assert sorted(t for fold in folds for t in fold.evaluate) == ["a", "b", "c"]
    for fold in folds:
        assert not set(fold.tune) & set(fold.evaluate)
        assert sorted(fold.tune + fold.evaluate) == ["a", "b", "c"]


def test_single_tile_has_no_held_out_protocol() -> None:
    assert set(protocol_folds(["a"])) == {"reference"}


def test_crop_windows() -> None:
    assert crop_windows((1024, 512), None, 1) == [(slice(0, 1024), slice(0, 512))]
    corners = [(rows.start, cols.start) for rows, cols in crop_windows((300, 300), 128, 3)]
    assert corners == [(0, 0), (0, 128), (128, 0)]
    with pytest.raises(ValueError, match="only 4 crops"):
        crop_windows((300, 300), 128, 5)


def test_prepare_set_crops_and_converts_labels(tmp_path: Path) -> None:
    settings = DemoSettings(out=tmp_path, tiles=1, crop=96, crops_per_tile=2)
    work = Workspace(tmp_path / "loveda", "regions")
    windows = prepare_set(SAMPLE_SETS["loveda"], settings, work)
    assert [w.name for w in windows] == ["mmseg_0_c0", "mmseg_0_c1"]
    assert sorted(p.name for p in work.images.iterdir()) == ["mmseg_0_c0.png", "mmseg_0_c1.png"]
    assert {w.source_id for w in windows} == {"mmseg_0"}
    raw = pixels(REAL / "loveda" / "mmseg_0_mask.png")
    image = pixels(REAL / "loveda" / "mmseg_0.png", "RGB")
    gt = read_label_png(work.gt / "mmseg_0_c1.png")
    np.testing.assert_array_equal(gt, loveda_to_geoseg(raw[:96, 96:192]))
    np.testing.assert_array_equal(pixels(work.images / "mmseg_0_c1.png"), image[:96, 96:192])
    assert opened(work.gt / "mmseg_0_c0.png").mode == "P"


def test_run_demo_command_line_maps_to_settings() -> None:
    default = demo_cli.parse_args(["--out", "outputs/demo"])
    assert default == DemoSettings(out=Path("outputs/demo"))
    settings = demo_cli.parse_args(
        [
            "--out",
            "o",
            "--sets",
            "loveda",
            "--crop",
            "128",
            "--crops-per-tile",
            "2",
            "--epochs",
            "1",
            "--objects",
            "regions",
            "-t",
            "all",
            "--verbose",
        ]
    )
    assert (settings.sets, settings.crop, settings.crops_per_tile, settings.train_epochs) == (("loveda",), 128, 2, 1)
    assert (settings.objects, settings.pick_mode, settings.verbose) == ("regions", "all", True)


def test_objects_use_hq_sam_only_when_its_checkpoint_is_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSRS_WEIGHTS", str(tmp_path))
    fallback = choose_objects("auto")
    assert fallback.arguments() == ["--model", "regions"]
    assert "NOT SAM" in fallback.description and "not SAM objects" in fallback.meaning
    assert "sam_hq_vit_tiny.pth" in fallback.missing and "https://" in fallback.missing
    assert str(tmp_path) in fallback.missing
    assert choose_objects("regions").missing is None
    assert choose_objects("samhq").arguments() == ["--model", "samhq", "--model-type", "vit_h"]
    for name in ("sam_hq_vit_h.pth", "sam_hq_vit_b.pth"):
        (tmp_path / name).write_bytes(b"")
    chosen = choose_objects("auto")
    assert chosen.arguments() == ["--model", "samhq", "--model-type", "vit_b"]
    assert "HQ-SAM" in chosen.description and "sam_hq_vit_b.pth" in chosen.description
    assert chosen.missing is None
    assert choose_objects("regions").arguments() == ["--model", "regions"]
