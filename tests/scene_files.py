"""A small georeferenced scene for the scene-command tests: the real Potsdam sample tile as a GeoTIFF with a made-up
CRS (EPSG:32633) and 5 cm pixels, and a coarse prediction of it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
import torch
from affine import Affine

from geoseg.config import load_config
from geoseg.paths import GEOSEG_ROOT
from rscommon.images import read_rgb
from rscommon.labels import read_label_png
from rscommon.paths import REAL_SAMPLES
from rspipeline.scene_cli import scene_argv
from rspipeline.tune_cli import tune_argv

POTSDAM_TILE = REAL_SAMPLES / "potsdam" / "top_potsdam_2_10_crop0_0_512_512_"
CRS = "EPSG:32633"
TRANSFORM = Affine(0.05, 0.0, 500000.0, 0.0, -0.05, 5800000.0)  # 5 cm pixels, north up
TILE, OVERLAP = 256, 32
BEST = {"t1": {str(c): 0.5 for c in range(6)}, "t2": {str(c): 0.5 for c in range(6)}, "modify": [1, 0, 3, 2]}
NOTHING = {"t1": {}, "t2": {}, "modify": []}


def write_raster(path: Path, bands: np.ndarray, crs=CRS, transform=TRANSFORM, **options) -> Path:
    """A GeoTIFF of C x H x W ``bands``; ``options`` go to rasterio (``nodata``, ``tiled``, ...)."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=bands.shape[2],
        height=bands.shape[1],
        count=bands.shape[0],
        dtype=bands.dtype,
        crs=crs,
        transform=transform,
        **options,
    ) as dataset:
        dataset.write(bands)
    return path


def write_vrt(path: Path, source: Path, width: int, height: int, dtype: str = "Byte") -> Path:
    """A one-band VRT on the scene's grid reading band 1 of ``source`` (named relative to the VRT)."""
    geotransform = ", ".join(str(value) for value in TRANSFORM.to_gdal())
    path.write_text(
        f"""<VRTDataset rasterXSize="{width}" rasterYSize="{height}">
  <SRS>{CRS}</SRS>
  <GeoTransform>{geotransform}</GeoTransform>
  <VRTRasterBand dataType="{dtype}" band="1">
    <SimpleSource>
      <SourceFilename relativeToVRT="1">{source.name}</SourceFilename>
      <SourceBand>1</SourceBand>
    </SimpleSource>
  </VRTRasterBand>
</VRTDataset>
"""
    )
    return path


def coarse_prediction(labels: np.ndarray, factor: int = 8) -> np.ndarray:
    """The Potsdam label map in GeoSeg's classes (boundary -> clutter), coarsened: a blocky stand-in for a model."""
    classes = np.where(labels == 0, 5, labels - 1).astype(np.uint8)
    coarse = classes[factor // 2 :: factor, factor // 2 :: factor]
    return np.repeat(np.repeat(coarse, factor, 0), factor, 1)[: labels.shape[0], : labels.shape[1]]


def make_scene(folder: Path) -> dict:
    """The Potsdam tile as scene.tif (RGB) and pred.tif (a coarse prediction), with two thresholds files."""
    rgb = read_rgb(f"{POTSDAM_TILE}RGB.png")
    pred = coarse_prediction(read_label_png(f"{POTSDAM_TILE}label_mmseg.png"))
    (folder / "best.json").write_text(json.dumps(BEST))
    (folder / "nothing.json").write_text(json.dumps(NOTHING))
    return {
        "folder": folder,
        "rgb": rgb,
        "pred": pred,
        "image": write_raster(folder / "scene.tif", rgb.transpose(2, 0, 1)),
        "pred_tif": write_raster(folder / "pred.tif", pred[None]),
    }


def scene_args(
    scene: dict,
    out: Path,
    thresholds: str = "best.json",
    *extra: str,
    tile: int = TILE,
    pred: Path | None = None,
    image: Path | None = None,
) -> list[str]:
    """The scene command's arguments for ``scene`` with the weight-free objects, tile 256, overlap 32."""
    return [
        *scene_argv(
            image=image or scene["image"],
            pred=pred or scene["pred_tif"],
            objects="regions",
            thresholds=scene["folder"] / thresholds,
            dataset="potsdam",
            out=out,
            tile=tile,
            overlap=OVERLAP,
        ),
        *extra,
    ]


def tune_args(scene: dict, out: Path, labels: Path, pred: Path, *extra: str, context: int = 16) -> list[str]:
    """The tune command's arguments for ``scene`` labelled by ``labels``, with the weight-free objects."""
    return [
        *tune_argv(
            image=scene["image"],
            pred=pred,
            labels=labels,
            objects="regions",
            dataset="potsdam",
            out=out,
            context=context,
        ),
        *extra,
    ]


def read_band(path: Path) -> np.ndarray:
    """Band 1 of a raster."""
    with rasterio.open(path) as dataset:
        return dataset.read(1)


def geoseg_scene(scene: dict, folder: Path) -> dict:
    """A 256 x 352 crop of the scene (two tiles) and the arguments to predict it with the sample Potsdam UNetFormer,
    randomly initialised (plumbing, not accuracy) and saved as its checkpoint; nothing to refine."""
    config_path = GEOSEG_ROOT / "config" / "sample" / "unetformer_potsdam.py"
    torch.manual_seed(0)
    net = load_config(config_path, pretrained=False).net.eval()
    checkpoint = folder / "random.ckpt"
    torch.save({"state_dict": {f"net.{key}": value for key, value in net.state_dict().items()}}, checkpoint)
    rgb = scene["rgb"][100:356, 50:402]
    image = write_raster(folder / "crop.tif", rgb.transpose(2, 0, 1))
    out = folder / "out.tif"
    args = scene_argv(
        image=image,
        config=config_path,
        ckpt=checkpoint,
        tta="none",
        objects="regions",
        thresholds=scene["folder"] / "nothing.json",
        dataset="potsdam",
        out=out,
        tile=TILE,
        overlap=OVERLAP,
    )
    return {"rgb": rgb, "net": net, "out": out, "args": args}


def with_options(args: list[str], options: dict[str, list[str]]) -> list[str]:
    """``args`` with each option in ``options`` replaced by (or given) the values there."""
    args = list(args)
    for option, values in options.items():
        if option in args:
            position = args.index(option)
            del args[position : position + 2]
        args += [option, *values]
    return args


def damaged_image(scene: dict, folder: Path) -> Path:
    """The scene's image as a tiled GeoTIFF whose last 256 x 256 block is garbage: the scan (which reads only
    the masks of an 8-bit image) passes, the last tile's read fails."""
    path = folder / "damaged.tif"
    rgb = scene["rgb"].transpose(2, 0, 1)
    tiles = {"tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate", "interleave": "pixel"}
    write_raster(path, rgb, **tiles)
    with rasterio.open(path) as dataset:
        offset = int(dataset.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
        size = int(dataset.get_tag_item("BLOCK_SIZE_1_1", "TIFF", bidx=1))
    with path.open("r+b") as stream:
        stream.seek(offset)
        stream.write(b"\xff" * size)
    return path
