"""Where the reference's command-line forms find their files, resolved from the repository root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rscommon.datasets import get_dataset
from rscommon.paths import REPO_ROOT
from sessrs.folders import REFINED_FOLDER

GT_FOLDERS = {"modify": "modify_masks", "no_modify": "masks"}


def from_root(path: str | Path) -> Path:
    """An absolute path as given; a relative one taken from the repository root."""
    path = Path(path)
    return path if path.is_absolute() else REPO_ROOT / path


def dataset_results(dataset: str) -> Path:
    """``GeoSeg/fig_results/<dataset>``: one folder per model."""
    return REPO_ROOT / "GeoSeg" / "fig_results" / get_dataset(dataset).name


def contrast_file(dataset: str, threshold_mode: str, modify_type: str, sam_type: str) -> Path:
    """``GeoSeg/fig_results/<dataset>/sessrs_contrast_<threshold_mode>/<modify_type>_<sam_type>_contrast.json``:
    every model's pick and figures."""
    return dataset_results(dataset) / f"sessrs_contrast_{threshold_mode}" / f"{modify_type}_{sam_type}_contrast.json"


@dataclass(frozen=True)
class ModelResults:
    """The folders of one model's results in the reference layout."""

    dataset: str
    pred_dir: Path
    sam_dir: Path
    gt_dir: Path
    sweep_dir: Path
    refined_dir: Path


def model_results(fig_results: str | Path, modify_type: str, sam_type: str) -> ModelResults:
    """``GeoSeg/fig_results/<dataset>/<model>`` -> its ``pre_p``, SAM objects, ground truth and outputs."""
    folder = from_root(fig_results)
    dataset = get_dataset(folder.parent.name).name
    data = REPO_ROOT / "GeoSeg" / "data" / dataset
    return ModelResults(
        dataset=dataset,
        pred_dir=folder / "pre_p",
        sam_dir=data / "sam_label_info" / sam_type,
        gt_dir=data / "val" / GT_FOLDERS[modify_type],
        sweep_dir=folder / "sessrs_write" / f"{modify_type}_{sam_type}",
        refined_dir=folder / REFINED_FOLDER,
    )
