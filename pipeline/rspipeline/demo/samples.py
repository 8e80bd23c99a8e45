"""The demo's tiles: the embedded sample sets, their folders under the output, and the (cropped) tiles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from geoseg.datasets import SampleDataset
from rscommon.datasets import DatasetSpec, get_dataset
from rscommon.files import InputError, save_png_atomic
from rscommon.labels import read_label_png, write_label_png
from rscommon.paths import REPO_ROOT

from .settings import DemoSettings

SAMPLE_CONFIGS = REPO_ROOT / "GeoSeg" / "config" / "sample"


@dataclass(frozen=True)
class SampleSet:
    """Embedded tiles sharing one label set: GeoSeg sample ``sources``, trained with the sample ``config``."""

    key: str
    dataset: str
    label: str
    sources: tuple[str, ...]
    config: Path

    @property
    def spec(self) -> DatasetSpec:
        return get_dataset(self.dataset)


SAMPLE_SETS: dict[str, SampleSet] = {
    s.key: s
    for s in (
        SampleSet("loveda", "Urban", "LoveDA tiles (Urban classes)", ("loveda",), SAMPLE_CONFIGS / "unetformer.py"),
        SampleSet(
            "isprs",
            "potsdam",
            "Potsdam and Vaihingen tiles (Potsdam classes)",
            ("potsdam", "vaihingen"),
            SAMPLE_CONFIGS / "unetformer_potsdam.py",
        ),
    )
}


@dataclass(frozen=True)
class DemoFolder:
    """The demo's output folder: a workspace per sample set, the stage logs and the figures (the report beside
    them is :func:`rspipeline.report.write_report`'s)."""

    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def metrics(self) -> Path:
        """``metrics.json``: every protocol's figures per sample set."""
        return self.root / "metrics.json"

    def workspace(self, key: str, objects: str) -> Workspace:
        return Workspace(self.root / key, objects)


@dataclass(frozen=True)
class Workspace:
    """The folders of one sample set under the demo's output folder; objects are kept per object source."""

    root: Path
    objects: str

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def gt(self) -> Path:
        return self.root / "gt"

    @property
    def pred(self) -> Path:
        return self.root / "pred"

    @property
    def sam(self) -> Path:
        return self.root / "sam" / self.objects

    @property
    def geoseg(self) -> Path:
        return self.root / "geoseg"

    @property
    def refined(self) -> Path:
        """``refined/<peer>/<tile>.png``: the maps of the peers that tune nothing."""
        return self.root / "refined"

    def fold(self, protocol: str, fold: str) -> Path:
        """A fold's SESSRS stage outputs: ``sweep/``, ``best.json``, ``metrics.json``, ``se_mask/``."""
        return self.root / protocol / fold


@dataclass(frozen=True)
class TileWindow:
    """A demo tile: the window ``rows`` x ``cols`` of the GeoSeg sample image ``source_id``."""

    name: str
    source_id: str
    rows: slice
    cols: slice


def crop_windows(shape: tuple[int, int], crop: int | None, count: int) -> list[tuple[slice, slice]]:
    """``count`` non-overlapping ``crop`` squares in row-major order; the whole tile when ``crop`` is None."""
    if crop is None:
        return [(slice(0, shape[0]), slice(0, shape[1]))]
    corners = [(r, c) for r in range(0, shape[0] - crop + 1, crop) for c in range(0, shape[1] - crop + 1, crop)]
    if len(corners) < count:
        raise InputError(f"a {shape[0]}x{shape[1]} tile holds only {len(corners)} crops of {crop}, asked {count}")
    return [(slice(r, r + crop), slice(c, c + crop)) for r, c in corners[:count]]


def prepare_set(sample: SampleSet, settings: DemoSettings, work: Workspace) -> list[TileWindow]:
    """Write the set's tiles (cropped if asked) as ``images/<tile>.png`` and ``gt/<tile>.png`` (class ids)."""
    windows = []
    for source in sample.sources:
        dataset = SampleDataset(source)
        for index in range(len(dataset)):
            if settings.tiles is not None and len(windows) >= settings.tiles * settings.crops_per_tile:
                return windows
            source_id, image, label = dataset.load(index)
            crops = crop_windows(label.shape, settings.crop, settings.crops_per_tile)
            for number, (rows, cols) in enumerate(crops):
                name = source_id if len(crops) == 1 else f"{source_id}_c{number}"
                save_png_atomic(work.images / f"{name}.png", Image.fromarray(image[rows, cols]))
                write_label_png(work.gt / f"{name}.png", label[rows, cols], sample.spec)
                windows.append(TileWindow(name, source_id, rows, cols))
    return windows


def crop_predictions(windows: Sequence[TileWindow], predictions: Path, work: Workspace, spec: DatasetSpec) -> None:
    """``pred/<tile>.png``: each demo tile's window of its full-tile prediction."""
    for window in windows:
        full = read_label_png(predictions / f"{window.source_id}.png", spec)
        write_label_png(work.pred / f"{window.name}.png", full[window.rows, window.cols], spec)
