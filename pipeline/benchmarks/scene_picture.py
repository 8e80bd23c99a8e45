"""Draw the scene command's output for docs/scenes.md: an orthophoto with a nodata collar, refined, as a GIS
shows it.

The embedded 512 x 512 Potsdam tile becomes a GeoTIFF (EPSG:32633, 5 cm pixels) with an irregular collar declared
nodata (value 0), as an orthophoto's footprint has one: a wavy left edge, a cut corner and a hole. Its prediction
is the true labels coarsened 8 times. The scene command refines it with the weight-free ``regions`` objects (tile
256, overlap 32) into a COG and a GeoPackage, and the picture shows the image beside the refined classes in the
dataset's palette, nodata transparent, each polygon outlined.

Run: python pipeline/benchmarks/scene_picture.py [--out docs/scenes_example.png] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pyogrio
import rasterio
from affine import Affine
from matplotlib.patches import Patch
from shapely import from_wkb

from rscommon.cli import run_main
from rscommon.datasets import POTSDAM
from rscommon.images import read_rgb
from rscommon.labels import read_label_png
from rscommon.paths import REAL_SAMPLES, REPO_ROOT
from rspipeline.scene_cli import main as scene_main
from rspipeline.scene_cli import scene_argv
from sessrs.plots import save_figure

POTSDAM_TILE = REAL_SAMPLES / "potsdam" / "top_potsdam_2_10_crop0_0_512_512_"
PROFILE = {
    "driver": "GTiff",
    "crs": "EPSG:32633",
    "transform": Affine(0.05, 0.0, 500000.0, 0.0, -0.05, 5800000.0),
    "width": 512,
    "height": 512,
}
NODATA_GREY = "#c8c8c8"
THRESHOLDS = {"t1": {str(c): 0.5 for c in range(6)}, "t2": {str(c): 0.5 for c in range(6)}, "modify": [1, 0, 3, 2]}


def collar(height: int, width: int) -> np.ndarray:
    """Which pixels hold data: right of a wavy edge (about a third of the width in), below a cut top-right corner,
    outside an elliptic hole."""
    rows, columns = np.mgrid[:height, :width]
    edge = width / 3 + 40 * np.sin(rows / height * 3 * np.pi) + 15 * np.sin(rows / 17.0)
    corner = columns - (width - 140) > rows
    hole = ((rows - 0.7 * height) / 45) ** 2 + ((columns - 0.72 * width) / 60) ** 2 < 1
    return (columns > edge) & ~corner & ~hole


def collared_scene(folder: Path) -> tuple[Path, Path, Path]:
    """The Potsdam tile with a declared nodata collar, its coarse prediction and the thresholds."""
    rgb = read_rgb(f"{POTSDAM_TILE}RGB.png").transpose(2, 0, 1).copy()
    data = collar(*rgb.shape[1:])
    rgb[(rgb == 0) & data] = 1  # a black pixel with data is not nodata
    rgb[:, ~data] = 0
    labels = read_label_png(f"{POTSDAM_TILE}label_mmseg.png")
    classes = np.where(labels == 0, 5, labels - 1).astype(np.uint8)  # boundary -> clutter
    pred = np.repeat(np.repeat(classes[4::8, 4::8], 8, 0), 8, 1)
    image, prediction, thresholds = folder / "collared.tif", folder / "pred.tif", folder / "thresholds.json"
    with rasterio.open(image, "w", count=3, dtype="uint8", nodata=0, **PROFILE) as dataset:
        dataset.write(rgb)
    with rasterio.open(prediction, "w", count=1, dtype="uint8", **PROFILE) as dataset:
        dataset.write(pred, 1)
    thresholds.write_text(json.dumps(THRESHOLDS))
    return image, prediction, thresholds


def draw(image: Path, refined: Path, vector: Path, path: Path) -> None:
    """The image (nodata white) and the refined classes (palette, nodata transparent over grey, polygons
    outlined) side by side."""
    with rasterio.open(image) as dataset:
        rgb = dataset.read().transpose(1, 2, 0)
        valid = dataset.dataset_mask() > 0
        bounds = dataset.bounds
    with rasterio.open(refined) as dataset:
        classes = dataset.read(1)
    palette = np.array(list(POTSDAM.palette), np.uint8)
    shown = np.where(valid[..., None], rgb, 255).astype(np.uint8)
    coloured = np.dstack([palette[np.minimum(classes, len(palette) - 1)], np.where(classes == 255, 0, 255)])
    extent = (bounds.left, bounds.right, bounds.bottom, bounds.top)
    _, _, geometry, _ = pyogrio.raw.read(vector, layer="classes")
    figure, axes = plt.subplots(1, 2, figsize=(10, 5.4))
    axes[0].imshow(shown, extent=extent)
    axes[0].set_title("image (nodata collar declared)")
    axes[1].set_facecolor(NODATA_GREY)  # seen through the transparent nodata (the palette's ImSurf is white)
    axes[1].imshow(coloured.astype(np.uint8), extent=extent)
    for polygon in from_wkb(geometry):
        for ring in (polygon.exterior, *polygon.interiors):
            axes[1].plot(*ring.xy, color="black", linewidth=0.4)
    axes[1].set_title(f"refined COG + {len(geometry)} polygons (nodata transparent)")
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    handles = [
        Patch(facecolor=np.array(colour) / 255, edgecolor="grey", label=name)
        for name, colour in zip(POTSDAM.classes, POTSDAM.palette)
    ]
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    figure.tight_layout(rect=(0, 0.06, 1, 0.95))
    save_figure(figure, path)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "scenes_example.png")
    parser.add_argument("--keep", type=Path, help="keep the scene and the outputs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        image, prediction, thresholds = collared_scene(folder)
        refined, vector = folder / "out.tif", folder / "out.gpkg"
        arguments = scene_argv(
            image=image,
            pred=prediction,
            objects="regions",
            thresholds=thresholds,
            dataset=POTSDAM.name,
            out=refined,
            vector=vector,
            tile=256,
            overlap=32,
        )
        status = run_main(scene_main, arguments)
        if status != 0:
            raise SystemExit(status)
        draw(image, refined, vector, args.out)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
