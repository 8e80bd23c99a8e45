"""The generate_json_*.py command line: missing weights, resume, failing images, per-model defaults.

Runs use the weight-free ``--model regions`` source (fast, no checkpoint); the loop is the same for every model.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sam_objects.cli import main
from sam_objects.registry import default_checkpoint_path, settings_for

REPO = Path(__file__).resolve().parents[2]
TILES = [
    REPO / "data/real_samples/potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png",
    REPO / "data/real_samples/vaihingen/area1_0_0_512_512_IRRG.png",
]


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for tile in TILES:
        shutil.copy(tile, folder)
    return folder


def _run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "SAM" / script), *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    "script, file_name, url",
    [
        (
            "generate_json_sam.py",
            "sam_vit_h_4b8939.pth",
            "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
        ),
        (
            "generate_json_samhq.py",
            "sam_hq_vit_h.pth",
            "https://huggingface.co/lkeab/hq-sam/resolve/main/sam_hq_vit_h.pth",
        ),
    ],
)
def test_missing_checkpoint_names_the_file_and_where_it_is_published(
    image_dir: Path, tmp_path: Path, script: str, file_name: str, url: str
) -> None:
    absent = tmp_path / "nowhere.pth"
    result = _run_script(script, "-i", str(image_dir), "-j", str(tmp_path / "json"), "--checkpoint", str(absent))
    assert result.returncode == 2
    assert str(absent) in result.stderr and file_name in result.stderr and url in result.stderr
    assert not (tmp_path / "json").exists()


def test_default_checkpoints_are_standard_names_under_repo_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SESSRS_WEIGHTS", raising=False)
    assert default_checkpoint_path("sam", "vit_h") == REPO / "weights/sam_vit_h_4b8939.pth"
    assert default_checkpoint_path("samhq", "vit_tiny") == REPO / "weights/sam_hq_vit_tiny.pth"
    assert default_checkpoint_path("ssam", "swinl") == REPO / "weights/swinl_only_sam_many2many.pth"


@pytest.mark.skipif(importlib.util.find_spec("semantic_sam") is not None, reason="Semantic-SAM is installed")
def test_semantic_sam_missing_package_gives_install_instructions(image_dir: Path, tmp_path: Path) -> None:
    result = _run_script("generate_json_ssam.py", "-i", str(image_dir), "-j", str(tmp_path / "json"))
    assert result.returncode == 2
    assert "git clone https://github.com/UX-Decoder/Semantic-SAM" in result.stderr


def test_vit_tiny_is_hq_sam_only(image_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["-i", str(image_dir), "-j", str(tmp_path / "json"), "--model", "sam", "--model-type", "vit_tiny"])
    assert code == 2 and "vit_tiny" in capsys.readouterr().err


def test_failing_image_is_reported_and_the_others_are_written(
    image_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (image_dir / "broken.png").write_bytes(b"not a png at all")
    out = tmp_path / "json"
    code = main(["-i", str(image_dir), "-j", str(out), "--model", "regions"])
    printed = capsys.readouterr()
    assert code == 1
    assert sorted(p.name for p in out.glob("*.json")) == sorted(f"{t.stem}.json" for t in TILES)
    assert "FAILED broken.png" in printed.out and "broken.png" in printed.err
    assert "2 written, 0 skipped (already done), 1 failed" in printed.out
    assert all(json.loads(p.read_text()) for p in out.glob("*.json"))


def test_resume_skips_finished_images_and_overwrite_redoes_them(
    image_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "json"
    arguments = ["-i", str(image_dir), "-j", str(out), "--model", "regions"]
    assert main(arguments) == 0
    finished = out / f"{TILES[0].stem}.json"
    made = finished.stat().st_mtime_ns
    (out / f"{TILES[1].stem}.json").unlink()
    capsys.readouterr()

    assert main(arguments) == 0
    assert "1 written, 1 skipped" in capsys.readouterr().out
    assert finished.stat().st_mtime_ns == made
    assert (out / f"{TILES[1].stem}.json").exists()

    assert main([*arguments, "--overwrite"]) == 0
    assert "2 written, 0 skipped" in capsys.readouterr().out
    assert not [p for p in out.iterdir() if p.suffix != ".json" and p.name != ".objects_run.jsonl"], (
        "temporary files left behind"
    )


def test_setting_of_another_model_is_rejected(image_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["-i", str(image_dir), "-j", str(tmp_path / "json"), "--model", "regions", "--points-per-side", "8"])
    assert code == 2 and "--points-per-side not used by --model regions" in capsys.readouterr().err


def test_reference_defaults_per_model() -> None:
    sam, samhq, ssam = settings_for("sam"), settings_for("samhq"), settings_for("ssam")
    for settings in (sam, samhq, ssam):
        assert (
            settings.points_per_side,
            settings.points_per_batch,
            settings.box_nms_thresh,
            settings.min_mask_region_area,
        ) == (32, 200, 0.6, 500)
    assert (sam.pred_iou_thresh, sam.stability_score_thresh, sam.crop_n_layers) == (0.95, 0.95, 1)
    assert (samhq.pred_iou_thresh, samhq.stability_score_thresh, samhq.crop_n_layers) == (0.85, 0.85, 1)
    assert sam.crop_n_points_downscale_factor == samhq.crop_n_points_downscale_factor == 2
    assert (ssam.pred_iou_thresh, ssam.stability_score_thresh, ssam.crop_n_layers) == (0.95, 0.95, 0)
    assert ssam.levels == (3, 4, 5, 6)
    assert settings_for("samhq", pred_iou_thresh=0.5).pred_iou_thresh == 0.5
    with pytest.raises(ValueError, match="crop-n-layers 0"):
        settings_for("ssam", crop_n_layers=1)


def test_checkpoints_are_looked_up_in_sessrs_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SESSRS_WEIGHTS", str(tmp_path))
    assert default_checkpoint_path("samhq", "vit_tiny") == tmp_path / "sam_hq_vit_tiny.pth"


def test_worker_processes_write_the_jsons_of_a_single_process_run(image_dir: Path, tmp_path: Path) -> None:
    """``-n 2``: each worker process builds the source from its recipe; JSONs and records equal the serial run."""
    assert main(["-i", str(image_dir), "-j", str(tmp_path / "serial"), "--model", "regions"]) == 0
    assert main(["-i", str(image_dir), "-j", str(tmp_path / "pool"), "--model", "regions", "-n", "2"]) == 0
    for tile in TILES:
        name = f"{tile.stem}.json"
        assert (tmp_path / "pool" / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()
    assert (tmp_path / "pool/.objects_run.jsonl").read_text().count("\n") == len(TILES)
