"""SAM 2.1 as an object source (``--model sam2``) through every entry point, with a RANDOMLY INITIALISED tiny model.

The model is built from the ``sam2`` package's own SAM 2.1 tiny config WITHOUT a checkpoint (none can be downloaded
here) and saved as one, so the masks mean nothing: these tests check the plumbing from an image through
``SAM2AutomaticMaskGenerator`` to the JSON the SESSRS stage reads, the resume records, the Dask cluster, and the
scene command. The quality thresholds are 0 and box NMS is off so that random predictions survive; the point grid
is 2 x 2.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import asdict, fields, replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
import torch
from image_files import pixels
from loopback import loopback_cluster
from scene_files import BEST, OVERLAP, make_scene, read_band, scene_args, with_options, write_raster

from rscommon.cli import run_main
from rscommon.datasets import POTSDAM
from rscommon.images import read_rgb
from rscommon.objects import encode_object, read_objects
from rspipeline import scene_tiles as scene_module
from rspipeline.scene_cli import main as scene_main
from sam_objects import SOURCES, source_recipe
from sam_objects.cli import main
from sam_objects.registry import build_source
from sam_objects.run_log import RunLog
from sam_objects.runner import OBJECTS_LOG
from sam_objects.sam2_source import CONFIGS, build_sam2_model, sam2_generator, sam2_module
from sessrs import Thresholds, refine

REPO = Path(__file__).resolve().parents[2]
TILE = REPO / "data/real_samples/potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png"
HEIGHT, WIDTH = 96, 128  # not square, so a swapped H/W would show
TINY_GRID = {
    "points_per_side": 2,
    "points_per_batch": 4,
    "pred_iou_thresh": 0.0,
    "stability_score_thresh": 0.0,
    "box_nms_thresh": 1.0,
}  # random masks all cover most of the image: keep them all
OPTIONS = [f"--{name.replace('_', '-')}={value}" for name, value in TINY_GRID.items()]


@pytest.fixture(scope="module")
def random_tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    """SAM 2.1 tiny with random weights, and those weights saved as a checkpoint in SAM 2's format."""
    torch.manual_seed(0)
    net = build_sam2_model("tiny", checkpoint=None)
    checkpoint = tmp_path_factory.mktemp("weights") / "random_sam2.1_hiera_tiny.pt"
    torch.save({"model": net.state_dict()}, checkpoint)
    return net, checkpoint


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 16-bit RGB crop (sensors store the upper range), which the stage stretches to 8 bits."""
    folder = tmp_path_factory.mktemp("images")
    crop = pixels(TILE, "RGB")[200 : 200 + HEIGHT, 300 : 300 + WIDTH].astype(np.uint16) * 200 + 1000
    assert cv2.imwrite(str(folder / "crop16.png"), np.ascontiguousarray(crop[..., ::-1]))
    return folder


def _cli(images: Path, out: Path, checkpoint: Path, *extra: str) -> int:
    return main(
        [
            "-i",
            str(images),
            "-j",
            str(out),
            "--model",
            "sam2",
            "--model-type",
            "tiny",
            "--checkpoint",
            str(checkpoint),
            "--device",
            "cpu",
            *OPTIONS,
            *extra,
        ]
    )


def test_sam2_settings_are_the_generators_defaults_and_its_checkpoints_the_published_ones() -> None:
    spec = SOURCES["sam2"]
    defaults = inspect.signature(sam2_module("sam2.automatic_mask_generator").SAM2AutomaticMaskGenerator).parameters
    assert {setting.name: defaults[setting.name].default for setting in fields(spec.settings)} == asdict(spec.settings)
    assert list(spec.checkpoints) == list(CONFIGS) == ["tiny", "small", "base_plus", "large"]
    assert [info.file_name for info in spec.checkpoints.values()] == [
        f"sam2.1_hiera_{name}.pt" for name in ("tiny", "small", "base_plus", "large")
    ]
    assert (
        spec.checkpoint("tiny").url == "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_tiny.pt"
    )
    assert spec.package_version().startswith("sam2 ")


def test_a_missing_sam2_checkpoint_is_named_with_its_address(
    images: Path, tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("SESSRS_WEIGHTS", str(tmp_path / "weights"))
    assert main(["-i", str(images), "-j", str(tmp_path / "json"), "--model", "sam2", "--model-type", "small"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "sam2.1_hiera_small.pt" in err
    assert "https://dl.fbaipublicfiles.com/segment_anything_2/092824/sam2.1_hiera_small.pt" in err
    assert not (tmp_path / "json").exists()


def test_a_checkpoint_of_another_model_is_one_line_naming_the_file(
    images: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    checkpoint = tmp_path / "flat.pt"
    torch.save({"weight": torch.zeros(1)}, checkpoint)  # a flat state dict, as SAM's files are
    assert _cli(images, tmp_path / "json", checkpoint) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{checkpoint}: has no 'model' entry" in err
    assert not (tmp_path / "json").exists()


@pytest.mark.slow
def test_random_sam2_json_is_the_generators_masks_and_resumes_by_its_settings(
    random_tiny: tuple[torch.nn.Module, Path], images: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The CLI's JSON holds the generator's masks of the stretched 16-bit image (asked here for dense masks and
    encoded independently, where the CLI takes the generator's COCO RLE); a re-run skips it; another setting or
    the generator's own option redoes it; the record keys every setting and the checkpoint."""
    net, checkpoint = random_tiny
    generator = sam2_generator(net, replace(SOURCES["sam2"].settings, **TINY_GRID), output_mode="binary_mask")
    with torch.no_grad():
        expected = [
            encode_object(found["segmentation"]) for found in generator.generate(read_rgb(images / "crop16.png"))
        ]
    out = tmp_path / "json"

    assert _cli(images, out, checkpoint) == 0
    records = json.loads((out / "crop16.json").read_text())
    assert records == expected and len(records) > 1
    assert read_objects(out / "crop16.json", shape=(HEIGHT, WIDTH)) == records
    made_from = RunLog(out / OBJECTS_LOG).entries["crop16.png"]["made_from"]
    assert made_from["settings"] == {
        "source": "sam2",
        "package": SOURCES["sam2"].package_version(),
        "model_type": "tiny",
        **asdict(replace(SOURCES["sam2"].settings, **TINY_GRID)),
    }
    assert made_from["inputs"]["checkpoint"]["size"] == checkpoint.stat().st_size
    capsys.readouterr()

    assert _cli(images, out, checkpoint) == 0
    assert "0 written, 1 skipped" in capsys.readouterr().out
    assert _cli(images, out, checkpoint, "--multimask-output", "false") == 0
    assert "1 redone: settings.multimask_output changed" in capsys.readouterr().out
    assert len(json.loads((out / "crop16.json").read_text())) >= 1


@pytest.mark.slow
def test_random_sam2_on_a_cluster_equals_the_local_run(
    random_tiny: tuple[torch.nn.Module, Path], images: Path, tmp_path: Path
) -> None:
    _, checkpoint = random_tiny
    assert _cli(images, tmp_path / "local", checkpoint) == 0
    with loopback_cluster() as cluster:
        assert _cli(images, tmp_path / "cluster", checkpoint, "--scheduler", cluster.scheduler_address) == 0
    assert (tmp_path / "cluster/crop16.json").read_bytes() == (tmp_path / "local/crop16.json").read_bytes()
    assert RunLog(tmp_path / "cluster" / OBJECTS_LOG).entries == RunLog(tmp_path / "local" / OBJECTS_LOG).entries


@pytest.mark.slow
def test_the_scene_command_refines_with_sam2_objects(
    random_tiny: tuple[torch.nn.Module, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 256 x 256 GeoTIFF (one tile, in this process): the refinement is given the random SAM 2's objects of the
    tile's pixels and the output is its result. The scene command offers no generator settings, so the registry's
    are made the 2 x 2 grid here; its 12 random objects are more than the default --max-objects, hence 100."""
    _, checkpoint = random_tiny
    monkeypatch.setitem(
        SOURCES, "sam2", replace(SOURCES["sam2"], settings=replace(SOURCES["sam2"].settings, **TINY_GRID))
    )
    given = []

    def spy_refine(pred: np.ndarray, objects: list[dict], *args, **kwargs) -> np.ndarray:
        given.append(objects)
        return refine(pred, objects, *args, **kwargs)

    monkeypatch.setattr(scene_module, "refine", spy_refine)
    scene = make_scene(tmp_path)
    rgb, pred = scene["rgb"][:256, :256], scene["pred"][:256, :256]
    image = write_raster(tmp_path / "small.tif", rgb.transpose(2, 0, 1))
    pred_tif = write_raster(tmp_path / "small_pred.tif", pred[None])
    out = tmp_path / "out.tif"
    args = with_options(
        scene_args(scene, out, image=image, pred=pred_tif, tile=256),
        {
            "--objects": ["sam2"],
            "--model-type": ["tiny"],
            "--checkpoint": [str(checkpoint)],
            "--device": ["cpu"],
            "--overlap": [str(OVERLAP)],
            "--max-objects": ["100"],
        },
    )

    assert run_main(scene_main, args) == 0

    objects = build_source(source_recipe("sam2", "tiny", checkpoint, "cpu"))(rgb)
    assert len(objects) > 1 and given == [objects]
    expected = refine(pred, objects, Thresholds.from_json(BEST), max_objects=100, num_classes=POTSDAM.num_classes)
    assert np.array_equal(read_band(out), expected)
    with rasterio.open(out) as dataset:
        assert (dataset.width, dataset.height) == (256, 256)
