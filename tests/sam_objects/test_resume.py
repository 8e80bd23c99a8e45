"""Re-runs of the SAM stage redo exactly the images whose JSON is missing, damaged, or made from another image,
settings, checkpoint or stage version; a killed run resumes to the JSONs of a clean run; refused runs write nothing.

Runs use the weight-free ``--model regions`` source on crops of the real sample tiles (fast, no checkpoint); what
is recorded does not depend on the source.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from image_files import pixels
from PIL import Image

from rscommon.objects import read_objects
from rscommon.provenance import file_identity
from sam_objects.cli import main
from sam_objects.registry import source_recipe
from sam_objects.run_log import RunLog
from sam_objects.runner import OBJECTS_LOG as LOG_NAME
from sam_objects.runner import OBJECTS_VERSION, Provenance

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data/real_samples"
TILES = [
    "loveda/mmseg_0.png",
    "loveda/mmseg_1.png",
    "loveda/mmseg_2.png",
    "potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png",
    "vaihingen/area1_0_0_512_512_IRRG.png",
]


def _make_images(folder: Path, count: int, side: int) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for index in range(count):
        tile = pixels(SAMPLES / TILES[index % len(TILES)], "RGB")
        offset = (index // len(TILES)) * 64
        paths.append(folder / f"image_{index:02d}.png")
        Image.fromarray(tile[offset : offset + side, offset : offset + side]).save(paths[-1])
    return paths


@pytest.fixture
def images(tmp_path: Path) -> Path:
    _make_images(tmp_path / "images", 3, 256)
    return tmp_path / "images"


def _run(images: Path, out: Path, capsys: pytest.CaptureFixture, *options: str) -> str:
    assert main(["-i", str(images), "-j", str(out), "--model", "regions", *options]) == 0
    return capsys.readouterr().out


def _jsons(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.json"))}


@pytest.mark.parametrize("option, value", [("--method", "slic"), ("--min-mask-region-area", "1500")])
def test_changed_setting_redoes_every_image(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture, option: str, value: str
) -> None:
    out = tmp_path / "json"
    _run(images, out, capsys)
    before = _jsons(out)
    printed = _run(images, out, capsys, option, value)
    setting = option[2:].replace("-", "_")
    assert "3 written, 0 skipped" in printed and f"3 redone: settings.{setting} changed" in printed
    after = _jsons(out)
    assert after.keys() == before.keys() and all(after[name] != before[name] for name in after)
    assert "0 written, 3 skipped" in _run(images, out, capsys, option, value)


def test_changed_image_redoes_only_that_image(images: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "json"
    _run(images, out, capsys)
    before = _jsons(out)
    changed = images / "image_01.png"
    Image.fromarray(np.ascontiguousarray(pixels(changed)[::-1])).save(changed)  # same size, other content
    printed = _run(images, out, capsys)
    assert "1 written, 2 skipped" in printed and "1 redone: inputs.image changed" in printed
    after = _jsons(out)
    assert after["image_01.json"] != before["image_01.json"]
    assert {k: v for k, v in after.items() if k != "image_01.json"} == {
        k: v for k, v in before.items() if k != "image_01.json"
    }


@pytest.mark.parametrize("damage", ["truncated", "not JSON", "edited"])
def test_damaged_json_is_redone_not_skipped(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture, damage: str
) -> None:
    out = tmp_path / "json"
    _run(images, out, capsys)
    before = _jsons(out)
    target = out / "image_02.json"
    text = target.read_text()
    target.write_text({"truncated": text[: len(text) // 2], "not JSON": "\x00garbage", "edited": "[]"}[damage])
    printed = _run(images, out, capsys)
    assert "1 written, 2 skipped" in printed and "output differs from the one written" in printed
    assert _jsons(out) == before


def test_image_that_now_fails_loses_its_stale_json(images: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """An image replaced by an unreadable file: reported, and its old JSON is not left for the next stage."""
    out = tmp_path / "json"
    _run(images, out, capsys)
    (images / "image_01.png").write_bytes(b"no longer an image")
    assert main(["-i", str(images), "-j", str(out), "--model", "regions"]) == 1
    printed = capsys.readouterr().out
    assert "0 written, 2 skipped (already done), 1 failed" in printed and "FAILED image_01.png" in printed
    assert "previous output, out of date or damaged, was removed" in printed
    assert not (out / "image_01.json").exists() and len(_jsons(out)) == 2


def test_json_without_a_record_is_redone(images: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A JSON of unknown origin (another tool, a lost record) is not trusted."""
    out = tmp_path / "json"
    _run(images, out, capsys)
    (out / LOG_NAME).unlink()
    assert "3 redone: no record of what made the output" in _run(images, out, capsys)


def test_record_holds_image_source_settings_and_version_and_json_stays_a_list(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "json"
    _run(images, out, capsys, "--method", "slic")
    entry = RunLog(out / LOG_NAME).entries["image_00.png"]
    made = entry["made_from"]
    assert made["version"] == OBJECTS_VERSION
    assert made["inputs"] == {"image": file_identity(images / "image_00.png"), "checkpoint": None}
    assert made["settings"]["source"] == "regions" and made["settings"]["method"] == "slic"
    assert made["settings"]["package"].startswith("scikit-image ")
    assert made["settings"]["min_mask_region_area"] == 500 and made["settings"]["model_type"] is None
    assert entry["outputs"] == {"image_00.json": file_identity(out / "image_00.json")}
    data = json.loads((out / "image_00.json").read_text())
    assert isinstance(data, list) and set(data[0]) == {"rles", "area"}
    assert len(read_objects(out / "image_00.json", shape=(256, 256))) == len(data)


def test_other_checkpoint_or_version_is_a_reason_to_redo(tmp_path: Path) -> None:
    """The record keys on the checkpoint's content and the stage version (checked without building a model)."""
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"first weights")
    image = tmp_path / "image.png"
    image.write_bytes(b"image bytes")
    outputs = {"image.json": tmp_path / "image.json"}
    outputs["image.json"].write_text("[]\n")
    recipe = source_recipe("samhq", "vit_tiny", checkpoint)

    def made_from(version: str = OBJECTS_VERSION) -> dict:
        identity = recipe.identity()
        provenance = Provenance(version, identity["settings"], {"checkpoint": identity["checkpoint"]})
        return provenance.made_from({"image": file_identity(image)})

    first = made_from()
    assert first["inputs"]["checkpoint"] == file_identity(checkpoint)
    assert first["settings"]["model_type"] == "vit_tiny" and first["settings"]["pred_iou_thresh"] == 0.85
    log_path = tmp_path / LOG_NAME
    RunLog(log_path).append("image.png", first, {"image.json": file_identity(outputs["image.json"])})
    assert RunLog(log_path).reason_to_redo("image.png", outputs, first) is None
    assert RunLog(log_path).reason_to_redo("image.png", outputs, made_from("0")) == "version changed"
    checkpoint.write_bytes(b"other weights")
    assert RunLog(log_path).reason_to_redo("image.png", outputs, made_from()) == "inputs.checkpoint changed"


def test_log_line_cut_short_by_a_kill_is_ignored(images: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "json"
    _run(images, out, capsys)
    log = out / LOG_NAME
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-1]) + lines[-1][:40])  # the last image's line, cut mid-write
    printed = _run(images, out, capsys)
    assert "1 written, 2 skipped" in printed
    assert len(log.read_text().splitlines()) == 3 and len(RunLog(log).entries) == 3


def test_output_folder_equal_to_input_folder_is_refused_and_nothing_written(
    images: Path, capsys: pytest.CaptureFixture
) -> None:
    before = sorted(images.iterdir())
    code = main(["-i", str(images), "-j", str(images / "." / ""), "--model", "regions"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "is the image folder" in err
    assert sorted(images.iterdir()) == before


def test_refused_runs_write_nothing(images: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "json"
    bad_runs = [
        ["--model", "regions", "--points-per-side", "8"],  # a setting of another source
        ["--model", "samhq", "--checkpoint", str(tmp_path / "absent.pth")],  # no checkpoint
        ["--model", "sam", "--model-type", "vit_tiny"],  # no such backbone for SAM
        ["--model", "regions", "--workers", "0"],
    ]
    for options in bad_runs:
        assert main(["-i", str(images), "-j", str(out), *options]) == 2, options
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "Traceback" not in err, err
        assert not out.exists(), options
    out.write_text("a file")
    assert main(["-i", str(images), "-j", str(out), "--model", "regions"]) == 2
    assert "-j exists and is not a folder" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        main(["-i", str(tmp_path / "absent"), "-j", str(tmp_path / "json"), "--model", "regions", "--debug"])


def test_killed_run_resumes_to_the_jsons_of_a_clean_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """kill -9 in the middle of a run, change one finished input, re-run: the same JSONs as a clean run."""
    images = tmp_path / "images"
    paths = _make_images(images, 8, 384)
    out = tmp_path / "json"
    command = [
        sys.executable,
        str(REPO / "SAM/generate_json_sam.py"),
        "-i",
        str(images),
        "-j",
        str(out),
        "--model",
        "regions",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.json"))) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = sorted(out.glob("*.json"))
    assert process.returncode == -signal.SIGKILL and 2 <= len(finished) < len(paths), "not killed mid-run"

    changed = images / f"{finished[0].stem}.png"
    Image.fromarray(np.ascontiguousarray(pixels(changed)[:, ::-1])).save(changed)
    printed = _run(images, out, capsys)
    assert "1 redone: inputs.image changed" in printed

    clean_images = tmp_path / "clean_images"
    shutil.copytree(images, clean_images)
    _run(clean_images, tmp_path / "clean", capsys)
    assert _jsons(out) == _jsons(tmp_path / "clean") and len(_jsons(out)) == len(paths)
    assert sorted(p.name for p in out.iterdir()) == sorted([*_jsons(out), LOG_NAME]), "leftovers of the kill"
