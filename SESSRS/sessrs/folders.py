"""The stage's output folders: the names of the files each holds, and the checks made on them before anything is
written. No other module spells these names: the others ask these objects for their paths."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rscommon.files import InputError, write_json_atomic, write_text_atomic
from rscommon.locks import folder_locked
from rscommon.outputs import check_output_folder

from .inputs import Sample, absolute, input_folders
from .thresholds import Thresholds

REFINED_FOLDER = "se_mask"
"""The refined maps' folder inside a choice folder (and beside a model's results in the reference's layout), named
as in the reference."""


@dataclass(frozen=True)
class RefinedFolder:
    """What an application writes: one refined map ``<stem>.png`` per image, and ``.applied.json``, the record of
    what each map was made from (for resuming). ``root`` is made absolute from the current folder."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", absolute(self.root))

    @property
    def record(self) -> Path:
        return self.root / ".applied.json"

    def refined_map(self, stem: str) -> Path:
        return self.root / f"{stem}.png"

    def check(self, samples: Sequence[Sample]) -> None:
        """Refuse, before anything is written, a folder that is a file, an input folder or not writable."""
        check_output_folder(self.root, input_folders(samples), "refined-maps folder")

    def holds_maps(self) -> bool:
        """Whether the folder holds any PNG (a refined map, or anything else saved as one)."""
        return self.root.is_dir() and any(self.root.glob("*.png"))

    def locked(self) -> Iterator[None]:
        """Hold the folder while an application writes there (a second one into it is refused); :meth:`check` it
        first."""
        return folder_locked(self.root, f"refined-maps folder {self.root}")


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
    truth), the refined maps (a :class:`RefinedFolder`, ``se_mask/`` unless ``refined`` says otherwise), and what
    a chooser leaves: the joint search's ``joint_state.json`` and ``joint_trace.json``/``.png``, the cv
    selection's ``selection.json``, the method choice's ``method_choice.json``. Both folders are made absolute
    from the current folder."""

    root: Path
    refined: RefinedFolder | Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", absolute(self.root))
        if not isinstance(self.refined, RefinedFolder):
            object.__setattr__(self, "refined", RefinedFolder(self.refined or self.root / REFINED_FOLDER))

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

    @property
    def method_choice(self) -> Path:
        return self.root / "method_choice.json"

    def check(self, samples: Sequence[Sample]) -> None:
        """Refuse, before anything is written, a folder (or refined-maps folder) that is a file, an input folder
        or not writable."""
        check_output_folder(self.root, input_folders(samples))
        self.refined.check(samples)

    @contextmanager
    def locked(self, samples: Sequence[Sample]) -> Iterator[None]:
        """Check the folder (see :meth:`check`), then hold it for this run: a second run into it is refused.
        (The application holds the refined-maps folder while it writes there.) A folder made for the lock and
        left empty (a run refused on its inputs) is removed again."""
        self.check(samples)
        with folder_locked(self.root, f"--out {self.root}"):
            yield

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
