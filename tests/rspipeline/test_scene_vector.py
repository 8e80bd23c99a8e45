"""The polygons as a GIS user expects them: a GeoPackage's other layers kept (only the command's layer written or
replaced, a user's file or layer refused), ``--min-area`` as gdal_sieve.py (small regions merged into their
largest neighbour, no holes; dropping on request), ``area_m2`` in square metres whatever the CRS, ``--min-area``
units in square metres in a feet CRS, and vertical CRSs and non-finite numbers refused in one line."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pyogrio.raw import read as read_features
from pyogrio.raw import write as write_features
from rasterio.crs import CRS
from rasterio.features import shapes, sieve
from scene_files import TRANSFORM, scene_args, with_options, write_raster

from rscommon.cli import run_main
from rscommon.datasets import POTSDAM
from rspipeline.scene_cli import main
from rspipeline.vector import VectorSettings, raster_regions, write_polygons

NODATA = 255
PIXEL_M2 = 0.05 * 0.05
US_FOOT = 1200 / 3937  # metres
# EPSG:2263 (NAD83 / New York Long Island, US survey feet), 2 ft pixels
FEET_TRANSFORM = Affine(2.0, 0.0, 1_000_000.0, 0.0, -2.0, 200_000.0)


def read_layer(path: Path, layer: str = "classes") -> tuple[list, dict]:
    """The layer's geometries and fields by name."""
    meta, _, geometry, values = read_features(path, layer=layer)
    return list(shapely.from_wkb(geometry)) if geometry is not None else [], dict(zip(meta["fields"], values))


def class_raster(path: Path, labels: np.ndarray, crs: str = "EPSG:32633", transform: Affine = TRANSFORM) -> Path:
    return write_raster(path, labels[None].astype(np.uint8), crs=crs, transform=transform, nodata=NODATA)


@pytest.fixture(scope="module")
def user_gpkg(scene, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A GeoPackage holding a user's layer ``labels``, into which the scene command writes its polygons
    (``--min-area 0.5m2``: small regions merged), then the layer ``dropped`` (small regions dropped), then the
    polygons again; with what each run printed."""
    folder = tmp_path_factory.mktemp("gpkg")
    gpkg = folder / "work.gpkg"
    square = shapely.box(500001, 5799980, 500005, 5799984)
    write_features(
        gpkg,
        shapely.to_wkb(np.array([square])),
        [np.array(["Building"], dtype=object)],
        ["class"],
        layer="labels",
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:32633",
    )
    args = scene_args(scene, folder / "out.tif", "best.json", "--vector", str(gpkg), "--min-area", "0.5m2")
    printed = []
    for extra in ([], ["--small-regions", "drop", "--layer", "dropped"], []):
        with contextlib.redirect_stdout(io.StringIO()) as stdout:
            assert run_main(main, args + extra) == 0
        printed.append(stdout.getvalue())
    return {"gpkg": gpkg, "args": args, "square": square, "printed": printed}


def test_the_users_other_layers_survive_and_only_the_commands_layer_is_replaced(user_gpkg) -> None:
    gpkg, printed = user_gpkg["gpkg"], user_gpkg["printed"]
    assert "layer 'classes' will be added" in printed[0] and "polygons in " in printed[0]
    assert "layer 'dropped' will be added" in printed[1]
    assert "layer 'classes' will be replaced" in printed[2]
    assert sorted(pyogrio.list_layers(gpkg)[:, 0]) == ["classes", "dropped", "labels", "layer_styles"]
    geometries, fields = read_layer(gpkg, "labels")
    assert geometries[0].equals(user_gpkg["square"]) and list(fields["class"]) == ["Building"]
    _, styles = read_layer(gpkg, "layer_styles")
    assert sorted(styles["f_table_name"]) == ["classes", "dropped"] and all(styles["useAsDefault"])


def test_min_area_merges_small_regions_without_holes_or_drops_them(user_gpkg) -> None:
    merged, fields = read_layer(user_gpkg["gpkg"], "classes")
    dropped, dropped_fields = read_layer(user_gpkg["gpkg"], "dropped")
    data = 512 * 512 * PIXEL_M2
    assert sum(fields["area_m2"]) == pytest.approx(data)  # every pixel with data is covered: no hole
    assert shapely.union_all(merged).area == pytest.approx(data)
    assert sum(dropped_fields["area_m2"]) < data - 1  # dropping leaves holes
    assert min(dropped_fields["area_m2"]) >= 0.5
    assert len(merged) < len(dropped) + 20 and sum(len(g.interiors) for g in merged) < sum(
        len(g.interiors) for g in dropped
    )


def test_a_users_layer_or_file_is_refused_before_any_work(scene, user_gpkg, tmp_path: Path, capsys) -> None:
    gpkg = user_gpkg["gpkg"]
    before = gpkg.read_bytes()
    base = with_options(user_gpkg["args"], {"--out": [str(tmp_path / "o.tif")]})
    theirs = tmp_path / "theirs.fgb"
    write_features(
        theirs,
        shapely.to_wkb(np.array([user_gpkg["square"]])),
        [np.array([1])],
        ["id"],
        driver="FlatGeobuf",
        geometry_type="Polygon",
        crs="EPSG:32633",
    )
    for options, expected in [
        ({"--layer": ["labels"]}, "its layer 'labels' was not written by this command (fields class)"),
        ({"--vector": [str(theirs)]}, "it was not written by this command (fields id)"),
    ]:
        capsys.readouterr()
        assert run_main(main, with_options(base, options)) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], err
    assert gpkg.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["theirs.fgb"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"--dst-crs": ["EPSG:5703"]}, "not a two-dimensional geographic or projected CRS (a Vertical CRS)"),
        ({"--dst-crs": ["EPSG:7405"]}, "(a Compound CRS)"),
        ({"--dst-crs": ["EPSG:4978"]}, "(a Geocentric CRS)"),
        ({"--dst-crs": ["EPSG:4979"]}, "(a Geographic 3D CRS)"),
        ({"--simplify": ["nan"]}, "--simplify nan: needs a finite distance"),
        ({"--simplify": ["inf"]}, "--simplify inf: needs a finite distance"),
        ({"--min-area": ["infm2"]}, "--min-area infm2: give a finite number"),
        ({"--min-area": ["nanpx"]}, "--min-area nanpx: give a finite number"),
        ({"--layer": [" "]}, "--layer: give the layer a name"),
    ],
)
def test_vertical_crs_and_non_finite_numbers_are_refused_in_one_line(scene, tmp_path, capsys, options, expected):
    args = scene_args(scene, tmp_path / "out.tif", "best.json", "--vector", str(tmp_path / "out.gpkg"))
    assert run_main(main, with_options(args, options)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert os.listdir(tmp_path) == []


def test_area_m2_is_square_metres_in_a_geographic_and_a_feet_crs(tmp_path: Path) -> None:
    labels = np.zeros((40, 60), np.uint8)
    labels[10:30, 20:45] = 1
    utm = class_raster(tmp_path / "utm.tif", labels)
    regions = raster_regions(utm, VectorSettings(tmp_path / "x.gpkg"))
    write_polygons(
        VectorSettings(tmp_path / "wgs84.gpkg", dst_crs=CRS.from_epsg(4326)),
        regions,
        TRANSFORM,
        CRS.from_epsg(32633),
        POTSDAM,
    )
    geometries, fields = read_layer(tmp_path / "wgs84.gpkg")
    expected = np.array([g.area for g, _ in regions]) * PIXEL_M2
    assert max(g.bounds[2] for g in geometries) < 16  # degrees: the polygons are in EPSG:4326
    # geodesic against the UTM grid's areas: they differ by the central meridian's scale factor 0.9996 squared
    assert np.allclose(fields["area_m2"], expected / 0.9996**2, rtol=1e-4)
    feet = class_raster(tmp_path / "feet.tif", labels, crs="EPSG:2263", transform=FEET_TRANSFORM)
    settings = VectorSettings(tmp_path / "feet.gpkg", min_area=10, area_unit="m2", small="drop")
    assert settings.min_pixels(FEET_TRANSFORM, CRS.from_epsg(2263)) == pytest.approx(10 / (4 * US_FOOT**2))
    write_polygons(settings, raster_regions(feet, settings), FEET_TRANSFORM, CRS.from_epsg(2263), POTSDAM)
    _, fields = read_layer(tmp_path / "feet.gpkg")
    assert sorted(fields["area_m2"]) == pytest.approx(sorted(np.array([g.area for g, _ in regions]) * 4 * US_FOOT**2))


def test_a_small_island_is_merged_into_its_surroundings_leaving_no_hole(tmp_path: Path) -> None:
    labels = np.zeros((30, 30), np.uint8)
    labels[10:12, 10:12] = 3  # 4 pixels of Tree inside ImSurf
    labels[20:30, 0:10] = 1  # 100 pixels of Building
    raster = class_raster(tmp_path / "island.tif", labels)
    kept = raster_regions(raster, VectorSettings(tmp_path / "x.gpkg", min_area=5))
    assert sorted((g.area, c, len(g.interiors)) for g, c in kept) == [(100, 1, 0), (800, 0, 0)]
    dropped = raster_regions(raster, VectorSettings(tmp_path / "x.gpkg", min_area=5, small="drop"))
    assert sorted((g.area, c, len(g.interiors)) for g, c in dropped) == [(4, 3, 0), (100, 1, 0), (796, 0, 1)]


blocky_labels = arrays(np.uint8, (6, 8), elements=st.sampled_from([0, 1, 2, 2, NODATA])).map(
    lambda blocks: blocks.repeat(3, 0).repeat(3, 1)
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    blocks=blocky_labels,
    noise=arrays(np.uint8, (18, 24), elements=st.sampled_from([0, 0, 0, 1, 3])),
    smallest=st.integers(2, 30),
)
def test_merging_is_gdal_sieve_on_the_whole_raster_and_covers_every_pixel_with_data(blocks, noise, smallest) -> None:
    labels = np.where((noise > 0) & (blocks != NODATA), noise, blocks).astype(np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        raster = class_raster(Path(folder) / "labels.tif", labels)
        regions = raster_regions(raster, VectorSettings(Path(folder) / "x.gpkg", min_area=smallest))
    sieved = sieve(labels, smallest, mask=labels != NODATA, connectivity=4)
    whole = [(shapely.geometry.shape(g).area, int(v)) for g, v in shapes(sieved, mask=sieved != NODATA)]
    assert sorted((g.area, c) for g, c in regions) == sorted(whole)
    assert sum(g.area for g, _ in regions) == (labels != NODATA).sum()
    assert all(g.is_valid and g.geom_type == "Polygon" for g, _ in regions)


def test_a_write_failing_midway_leaves_the_users_geopackage_as_it_was(tmp_path: Path, monkeypatch) -> None:
    gpkg = tmp_path / "work.gpkg"
    write_features(
        gpkg,
        shapely.to_wkb(np.array([shapely.box(0, 0, 1, 1)])),
        [np.array([7])],
        ["mine"],
        layer="mine",
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:32633",
    )
    before = gpkg.read_bytes()
    labels = np.zeros((20, 20), np.uint8)
    labels[5:10, 5:10] = 2
    regions = raster_regions(class_raster(tmp_path / "labels.tif", labels), VectorSettings(gpkg))

    def interrupted(*args, **kwargs) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("rspipeline.vector.store_default_style", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_polygons(VectorSettings(gpkg), regions, TRANSFORM, CRS.from_epsg(32633), POTSDAM)
    assert gpkg.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["labels.tif", "work.gpkg"]
