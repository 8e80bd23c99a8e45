"""The stage's output folders: the names of the files each holds, and the checks made on them before anything is
written. No other module spells these names."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rscommon.files import InputError, write_json_atomic, write_text_atomic
from rscommon.locks import folder_locked
from rscommon.outputs import check_output_folder

from .application import forget_applied
from .inputs import Sample, absolute, input_folders
from .thresholds import Thresholds

REFINED_FOLDER = "se_mask"
"""The refined maps' folder inside a choice folder, named as in the reference."""


@dataclass(frozen=True)
class SweepFolder:
    """What a sweep writes: ``sweep.json`` (the figures), ``sweep.txt``, one heatmap per class, and for resuming
    ``run.json`` (what the sweep is of) and ``parts/`` (one ``<stem>.npz`` per finished image). ``root`` is made
    absolute from the current folder."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", absolute(self.root))

    @property
    def sweep(self) -> Path:
        return self.root / "sweep.json"

    @property
    def text(self) -> Path:
        return self.root / "sweep.txt"

    @property
    def run(self) -> Path:
        return self.root / "run.json"

    @property
    def parts(self) -> Path:
        return self.root / "parts"

    def part(self, stem: str) -> Path:
        return self.parts / f"{stem}.npz"

    def heatmap(self, cls: int, name: str) -> Path:
        return self.root / f"heatmap_{cls}_{name}.png"

    def check(self, samples: Sequence[Sample]) -> None:
        """Refuse, before anything is written, a folder that is a file, an input folder or not writable."""
        check_output_folder(self.root, input_folders(samples))

    def locked(self) -> Iterator[None]:
        """Hold the folder for this run (a second run into it is refused); :meth:`check` it first."""
        return folder_locked(self.root, f"--out {self.root}")


@dataclass(frozen=True)
class ChoiceFolder:
    """What choosing thresholds and applying them write: ``best.json``, ``metrics.json``/``.txt`` (with ground
    truth), the refined maps (``se_mask/`` unless ``refined`` says otherwise), and what a chooser leaves: the
    joint search's ``joint_state.json`` and ``joint_trace.json``/``.png``. Both folders are made absolute from
    the current folder."""

    root: Path
    refined: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", absolute(self.root))
        object.__setattr__(self, "refined", absolute(self.refined) if self.refined else self.root / REFINED_FOLDER)

    @property
    def best(self) -> Path:
        return self.root / "best.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def metrics_text(self) -> Path:
        return self.root / "metrics.txt"

    @property
    def joint_state(self) -> Path:
        return self.root / "joint_state.json"

    @property
    def joint_trace(self) -> Path:
        return self.root / "joint_trace.json"

    @property
    def joint_trace_plot(self) -> Path:
        return self.root / "joint_trace.png"

    @property
    def selection(self) -> Path:
        return self.root / "selection.json"

    def check(self, samples: Sequence[Sample]) -> None:
        """Refuse, before anything is written, a folder (or refined-maps folder) that is a file, an input folder
        or not writable."""
        inputs = input_folders(samples)
        check_output_folder(self.root, inputs)
        check_output_folder(self.refined, inputs, "refined-maps folder")

    @contextmanager
    def locked(self, samples: Sequence[Sample]) -> Iterator[None]:
        """Check the folder (see :meth:`check`), then hold it for this run: a second run into it is refused.
        (The application holds the refined-maps folder while it writes there.) A folder made for the lock and
        left empty (a run refused on its inputs) is removed again."""
        self.check(samples)
        with folder_locked(self.root, f"--out {self.root}"):
            yield

    def restart(self) -> None:
        """Forget the saved work of an earlier run (the joint search's state, the refined maps' record), so that
        everything is computed again; the chosen thresholds are still checked against ``best.json``."""
        self.joint_state.unlink(missing_ok=True)
        forget_applied(self.refined)

    def refuse_other_choice(self, thresholds: Thresholds) -> None:
        """Refuse a folder whose ``best.json`` holds other thresholds (its figures belong to them)."""
        if self.best.exists() and Thresholds.read(self.best) != thresholds:
            raise InputError(
                f"{self.best}: holds another pick (other thresholds); choose another output folder or remove that one"
            )

    def write_metrics(self, report: Mapping, table: str) -> None:
        """``metrics.json`` (the figures) and ``metrics.txt`` (``table``, the same figures to read)."""
        write_json_atomic(self.metrics, dict(report))
        write_text_atomic(self.metrics_text, table)
