"""The stages' own scripts as the demo runs them: GeoSeg training and prediction, and the SAM stage's objects."""

from __future__ import annotations

from pathlib import Path

from rscommon.paths import REPO_ROOT

from .console import Console
from .objects import ObjectChoice
from .samples import SampleSet, Workspace
from .settings import DemoSettings

GEOSEG = REPO_ROOT / "GeoSeg"
SAM = REPO_ROOT / "SAM"


def _geoseg_arguments(sample: SampleSet, work: Workspace) -> list[str]:
    return ["-c", str(sample.config), "--work-dir", str(work.geoseg), "--num-workers", "0"]


def is_trained(work: Workspace) -> bool:
    """Whether an earlier run already trained this set's model (its checkpoint is then reused)."""
    return any((work.geoseg / "model_weights").rglob("*.ckpt"))


def train(sample: SampleSet, work: Workspace, settings: DemoSettings, console: Console) -> None:
    """Train the set's sample config briefly, with the demo's epoch and batch limits."""
    limits = [
        *(["--max-epochs", str(settings.train_epochs)] if settings.train_epochs else []),
        *(["--limit-train-batches", str(settings.train_batches)] if settings.train_batches else []),
        *(["--limit-val-batches", str(settings.val_batches)] if settings.val_batches else []),
    ]
    console.run_script(GEOSEG / "train_supervision.py", *_geoseg_arguments(sample, work), *limits)


def predict(sample: SampleSet, work: Workspace, console: Console) -> Path:
    """Predict the set's full sample tiles; returns their folder (``pre_p/<sample id>.png``)."""
    predictions = work.geoseg / "predict"
    console.run_script(GEOSEG / "test.py", *_geoseg_arguments(sample, work), "-o", str(predictions), "--resume")
    return predictions / "pre_p"


def make_objects(work: Workspace, choice: ObjectChoice, console: Console) -> None:
    """``sam/<source>/<tile>.json`` for every tile by the SAM stage's script (it skips tiles already done)."""
    console.run_script(SAM / "generate_json_sam.py", "-i", str(work.images), "-j", str(work.sam), *choice.arguments())
