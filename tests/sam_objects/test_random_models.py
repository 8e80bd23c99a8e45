"""End-to-end plumbing of the SAM and HQ-SAM automatic-mask-generation path.

The models are built by the official packages WITHOUT a checkpoint, i.e. with RANDOM weights (none can be
downloaded here), so the masks mean nothing: these tests check only the plumbing from a real image crop through
``SamAutomaticMaskGenerator`` to the JSON the SESSRS stage reads. The quality thresholds are lowered to 0 so that
random predictions survive the filters, and the point grid is tiny to keep CPU time low.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from image_files import pixels
from loopback import loopback_cluster
from PIL import Image

from rscommon.images import list_images
from rscommon.objects import encode_object, read_objects
from sam_objects.cli import main
from sam_objects.registry import SourceRecipe, build_source, settings_for
from sam_objects.run_log import RunLog
from sam_objects.runner import OBJECTS_LOG, generate_object_jsons
from sam_objects.sam_source import build_sam_model, sam_package

REPO = Path(__file__).resolve().parents[2]
TILE = REPO / "data/real_samples/potsdam/top_potsdam_2_10_crop0_0_512_512_RGB.png"
HEIGHT, WIDTH = 96, 128  # not square, so a swapped H/W would show
MIN_REGION = 200


@pytest.fixture(scope="module")
def crop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crop")
    tile = pixels(TILE, "RGB")
    Image.fromarray(tile[200 : 200 + HEIGHT, 300 : 300 + WIDTH]).save(folder / "crop.png")
    return folder


def _component_sizes(binary: np.ndarray) -> np.ndarray:
    _, _, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    return stats[1:, cv2.CC_STAT_AREA]


TINY_GRID = {
    "points_per_side": 2,
    "points_per_batch": 4,
    "crop_n_layers": 0,
    "pred_iou_thresh": 0.0,
    "stability_score_thresh": 0.0,
    "min_mask_region_area": MIN_REGION,
}


def _assert_valid_objects(path: Path) -> list[dict]:
    """The JSON is the SESSRS format, sized like the crop, with areas counted after small-region removal."""
    records = json.loads(path.read_text())
    assert len(records) > 0
    for record in records:
        assert set(record) == {"rles", "area"} and isinstance(record["rles"]["counts"], str)
        mask = mask_utils.decode({"size": record["rles"]["size"], "counts": record["rles"]["counts"].encode()})
        assert record["rles"]["size"] == [HEIGHT, WIDTH] and mask.shape == (HEIGHT, WIDTH)
        assert record["area"] == int(mask.sum()) > 0
        assert (_component_sizes(1 - mask) >= MIN_REGION).all(), "a small hole survived"
        islands = _component_sizes(mask)
        assert len(islands) == 1 or (islands >= MIN_REGION).all(), "a small extra island survived"
    assert len(read_objects(path, shape=(HEIGHT, WIDTH))) == len(records)
    return records


@pytest.mark.slow
def test_random_sam_vit_b_objects_are_valid_and_read_by_sessrs(crop_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = build_source(
        SourceRecipe("sam", settings_for("sam", **TINY_GRID), "vit_b", checkpoint=None, device="cpu")
    )  # checkpoint None: random weights

    summary = generate_object_jsons(list_images(crop_dir), tmp_path, source)

    assert summary.written == ["crop.png"] and not summary.failed
    _assert_valid_objects(tmp_path / "crop.json")


@pytest.mark.slow
def test_random_hq_sam_vit_tiny_objects_are_valid_and_the_cli_reproduces_them(crop_dir: Path, tmp_path: Path) -> None:
    """The random model is also saved as a checkpoint: the CLI run must load it and give the same masks.

    The expected records come from the package's generator asked for dense masks, encoded here; the CLI asks it
    for COCO RLE, so equality also shows that no mask changes by skipping the dense round trip. A run on a
    two-worker cluster on loopback (``--scheduler``) must then write the same JSON.
    """
    torch.manual_seed(0)
    net = build_sam_model("samhq", "vit_tiny", checkpoint=None)
    checkpoint = tmp_path / "random_vit_tiny.pth"
    torch.save(net.state_dict(), checkpoint)
    generator = sam_package("samhq").SamAutomaticMaskGenerator(net, output_mode="binary_mask", **TINY_GRID)
    expected = [
        encode_object(found["segmentation"]) for found in generator.generate(pixels(crop_dir / "crop.png", "RGB"))
    ]

    options = [f"--{name.replace('_', '-')}={value}" for name, value in TINY_GRID.items()]
    model = ["--model", "samhq", "--model-type", "vit_tiny", "--checkpoint", str(checkpoint), "--device", "cpu"]
    code = main(["-i", str(crop_dir), "-j", str(tmp_path / "cli"), *model, *options])

    assert code == 0
    assert _assert_valid_objects(tmp_path / "cli/crop.json") == expected

    # The same on a dask.distributed cluster: each worker rebuilds the source from its recipe and the checkpoint.
    with loopback_cluster() as cluster:
        on_cluster = ["--scheduler", cluster.scheduler_address]
        code = main(["-i", str(crop_dir), "-j", str(tmp_path / "cluster"), *model, *options, *on_cluster])
    assert code == 0
    assert (tmp_path / "cluster/crop.json").read_bytes() == (tmp_path / "cli/crop.json").read_bytes()
    assert (
        RunLog(tmp_path / "cluster" / OBJECTS_LOG).entries["crop.png"]["made_from"]
        == RunLog(tmp_path / "cli" / OBJECTS_LOG).entries["crop.png"]["made_from"]
    )


def test_checkpoint_lacking_weights_is_an_error_naming_the_file(tmp_path: Path) -> None:
    state = build_sam_model("samhq", "vit_tiny", checkpoint=None).state_dict()
    state.pop(next(iter(state)))
    checkpoint = tmp_path / "partial.pth"
    torch.save(state, checkpoint)
    with pytest.raises(ValueError, match=f"{checkpoint}: does not fit --model samhq --model-type vit_tiny: lacks 1 "):
        build_sam_model("samhq", "vit_tiny", checkpoint)


def test_checkpoint_of_the_wrong_shape_is_one_line_naming_the_file(
    crop_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A tiny state dict whose tensors have other shapes than vit_tiny's: one error line, nothing written."""
    state = build_sam_model("samhq", "vit_tiny", checkpoint=None).state_dict()
    wrong = {name: torch.zeros(1) for name in state}
    checkpoint = tmp_path / "wrong_shape.pth"
    torch.save(wrong, checkpoint)
    out = tmp_path / "json"
    code = main(
        [
            "-i",
            str(crop_dir),
            "-j",
            str(out),
            "--model",
            "samhq",
            "--model-type",
            "vit_tiny",
            "--checkpoint",
            str(checkpoint),
            "--device",
            "cpu",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert str(checkpoint) in err and "does not fit --model samhq --model-type vit_tiny" in err
    assert "weights of another shape" in err
    assert not out.exists()
