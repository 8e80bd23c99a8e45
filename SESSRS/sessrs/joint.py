"""The joint threshold search: all classes' (t1, t2) and their membership in ``modify`` improved together.

The reference tunes each class alone with the others switched off, then applies all classes at once; classes
interact (step 3 cuts objects of one class by those of another, step 5 settles pixels two classes claim), so the
per-class picks do not add up. The joint search starts from the per-class pick and does coordinate descent on the
mIoU of the full application (all classes at once, the application's object limit): it takes the classes in
turn, scores every setting of that class (not refined, or refined with each pair of the grid) with the other
classes as they are, keeps the best (the current setting on a tie), and stops when every class has been scored
since the last change with no gain (the class that changed last is not scored again: it would keep its setting).
It is deterministic; its state is saved after each step, keyed on its inputs and settings, so an interrupted
search continues where it stopped. Each setting is scored incrementally (see :mod:`sessrs.joint_engine`), image by
image in shards bounded by a memory limit, locally or on a Dask cluster (see :mod:`sessrs.joint_shards`); on many
images a step screens the settings on a subset and confirms the best few on all (see :mod:`sessrs.joint_screen`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError, read_json, write_json_atomic
from rscommon.metrics import compute_scores
from rscommon.parallel import LOCAL, Execution
from rscommon.provenance import digest, fingerprint, what_changed

from .folders import ChoiceFolder
from .inputs import Sample
from .joint_engine import OFF, ClassSetting, Settings, modify_of
from .joint_screen import SCREENING, Screening, screened_matrices
from .joint_shards import ShardPool
from .modes import FAITHFUL, RefineOptions
from .resume import state_disagreement
from .sweep_engine import REFERENCE_GRID, ThresholdGrid
from .thresholds import NEVER, Thresholds

JOINT_VERSION = "2"


def settings_from(thresholds: Thresholds, num_classes: int) -> Settings:
    """Per-class settings from thresholds (classes not given: 1, never)."""
    return tuple(
        ClassSetting(thresholds.t1.get(c, NEVER), thresholds.t2.get(c, NEVER), c in thresholds.modify)
        for c in range(num_classes)
    )


def thresholds_of(settings: Settings) -> Thresholds:
    """The thresholds (``best.json``) of per-class settings."""
    return Thresholds(
        t1={c: s.t1 for c, s in enumerate(settings)},
        t2={c: s.t2 for c, s in enumerate(settings)},
        modify=modify_of(settings),
    )


def candidates_for(current: ClassSetting, grid: ThresholdGrid) -> list[ClassSetting]:
    """The settings a class is scored at: its current one first (it wins ties), off, then every grid pair."""
    options = [current, OFF, *(ClassSetting(t1, t2, True) for t1, t2 in grid.pairs)]
    return list(dict.fromkeys(options))


@dataclass
class SearchState:
    """Where a joint search stands; saved after every step."""

    key: dict
    settings: Settings
    miou: float
    round: int = 1
    position: int = 0
    last_changed: int | None = None
    """The class whose setting changed last (None: none yet)."""
    done: bool = False
    evaluations: int = 0
    seconds: float = 0.0
    trace: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "key": self.key,
            "settings": [s.to_json() for s in self.settings],
            "mIoU": self.miou,
            "round": self.round,
            "position": self.position,
            "last_changed": self.last_changed,
            "done": self.done,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "trace": self.trace,
        }

    @classmethod
    def from_json(cls, data: dict) -> SearchState:
        settings = tuple(ClassSetting(float(s["t1"]), float(s["t2"]), bool(s["refined"])) for s in data["settings"])
        return cls(
            key=data["key"],
            settings=settings,
            miou=float(data["mIoU"]),
            round=int(data["round"]),
            position=int(data["position"]),
            last_changed=None if data["last_changed"] is None else int(data["last_changed"]),
            done=bool(data["done"]),
            evaluations=int(data["evaluations"]),
            seconds=float(data["seconds"]),
            trace=list(data["trace"]),
        )


def search_key(
    samples: Sequence[Sample],
    spec: DatasetSpec,
    start: Settings,
    classes: Sequence[int],
    grid: ThresholdGrid,
    max_objects: int,
    options: RefineOptions,
    screening: Screening = SCREENING,
) -> dict:
    """What a search result is made from: the images' files, the start and every setting of the search."""
    inputs = {
        f"{s.stem}.{kind}": path for s in samples for kind, path in (("pred", s.pred), ("sam", s.sam), ("gt", s.gt))
    }
    settings = {
        "dataset": spec.name,
        "start": thresholds_of(start).to_json(),
        "classes": list(classes),
        "grid": grid.to_json(),
        "max_objects": max_objects,
        "options": options.to_json(),
        "screening": screening.to_json(),
    }
    return fingerprint(inputs, settings, JOINT_VERSION)


def mean_iou(matrix: np.ndarray, spec: DatasetSpec) -> float:
    return float(compute_scores(matrix, spec.scored).miou)


def joint_search(
    samples: Sequence[Sample],
    spec: DatasetSpec,
    start: Settings,
    state_dir: str | Path,
    *,
    max_objects: int,
    grid: ThresholdGrid = REFERENCE_GRID,
    options: RefineOptions = FAITHFUL,
    classes: Sequence[int] | None = None,
    execution: Execution = LOCAL,
    memory_limit: int | None = None,
    pool: ShardPool | None = None,
    screening: Screening = SCREENING,
) -> SearchState:
    """Coordinate descent from ``start`` over ``classes`` (default: the scored ones) on the ``samples``' pooled mIoU.

    Keeps its state in ``state_dir`` as a choice folder does (:attr:`~sessrs.folders.ChoiceFolder.joint_state`)
    and resumes from it when it holds a search of the same inputs and settings (a state of another search is
    replaced, and what changed is printed). Returns the final state; its ``trace`` has one
    entry per step: the class, its chosen setting, the mIoU (x100) after the step and the gain.

    The per-image work runs where ``execution`` says (local processes, or a Dask cluster's workers), within
    ``memory_limit`` bytes for all its processes together (None: a twelfth of this machine's memory): images that
    do not fit stay on disk between steps (see :mod:`sessrs.joint_shards`). ``pool``: a :class:`ShardPool`
    holding (at least) these images, built with the same ``max_objects`` and ``options``, used instead.
    ``screening``: on many images, each step screens the candidates on a subset of them (see
    :mod:`sessrs.joint_screen`; :data:`~sessrs.joint_screen.EXACT` never does).
    """
    classes = list(spec.scored if classes is None else classes)
    key = search_key(samples, spec, start, classes, grid, max_objects, options, screening)
    state_path = ChoiceFolder(Path(state_dir)).joint_state
    state = _resume(state_path, key, classes)
    stems = frozenset(s.stem for s in samples)
    if pool is None:
        pool = ShardPool(
            samples, spec, max_objects=max_objects, options=options, execution=execution, memory_limit=memory_limit
        )
    else:
        pool = nullcontext(pool)
    with pool as pool:
        began = time.perf_counter()
        if state is not None:
            state = _verified(state_path, state, mean_iou(pool.total("commit", stems, state.settings), spec))
        if state is None:
            matrix = pool.total("commit", stems, start)
            state = SearchState(key=key, settings=start, miou=mean_iou(matrix, spec))
            state.trace.append(
                {
                    "step": 0,
                    "round": 0,
                    "class": None,
                    "setting": None,
                    "mIoU": 100 * state.miou,
                    "gain": 0.0,
                    "thresholds": thresholds_of(start).to_json(),
                }
            )
        _save(state_path, state)
        per_round = sum(len(candidates_for(state.settings[c], grid)) for c in classes)
        with tqdm(desc="joint search", unit="setting", total=per_round) as progress:
            progress.set_postfix(round=state.round, mIoU=f"{100 * state.miou:.2f}")
            while not state.done:
                _step(pool, stems, state, classes, grid, spec, progress, screening)
                state.seconds += time.perf_counter() - began
                began = time.perf_counter()
                _save(state_path, state)
    return state


def _step(
    pool: ShardPool,
    stems: frozenset[str],
    state: SearchState,
    classes: list[int],
    grid: ThresholdGrid,
    spec: DatasetSpec,
    progress: tqdm,
    screening: Screening = SCREENING,
) -> None:
    """Score every setting of the next class (screened on many images, see :mod:`sessrs.joint_screen`), keep the
    best, and move on (to the next round, or stop)."""
    cls = classes[state.position]
    candidates = candidates_for(state.settings[cls], grid)
    started = time.perf_counter()
    chosen, matrices = screened_matrices(
        lambda images, settings: pool.total("matrices", images, state.settings, cls, settings),
        stems,
        candidates,
        lambda matrix: mean_iou(matrix, spec),
        screening,
    )
    scores = [mean_iou(matrix, spec) for matrix in matrices]
    best = int(np.argmax(scores))  # first of the highest: the current setting on a tie
    gain = scores[best] - state.miou
    least = screening.min_gain if screening.applies(len(stems)) else 0.0
    changed = best != 0 and gain > 0 and gain >= least
    if changed:  # the images take the new settings on the next step's visit
        state.settings = tuple(candidates[chosen[best]] if c == cls else s for c, s in enumerate(state.settings))
        state.miou, state.last_changed = scores[best], cls
    state.evaluations += len(candidates)
    state.trace.append(
        {
            "step": len(state.trace),
            "round": state.round,
            "class": cls,
            "class_name": spec.classes[cls],
            "setting": state.settings[cls].to_json(),
            "mIoU": 100 * state.miou,
            "gain": 100 * gain if changed else 0.0,
            "settings_scored": len(candidates),
            "settings_confirmed": len(chosen),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
    progress.update(len(candidates))
    state.position = (state.position + 1) % len(classes)
    # done when the next class is the one that changed last: every other class was scored since, with no gain,
    # so the settings are those it was scored with and it would keep its own; or after a first round with no gain
    state.done = classes[state.position] == state.last_changed or (state.last_changed is None and state.position == 0)
    if state.position == 0 and not state.done:
        state.round += 1
        progress.reset(total=sum(len(candidates_for(state.settings[c], grid)) for c in classes))
    progress.set_postfix(round=state.round, mIoU=f"{100 * state.miou:.2f}")


def _resume(path: Path, key: dict, classes: Sequence[int]) -> SearchState | None:
    """The saved state of this search, or None (no state, another search's, or a damaged one or one that
    disagrees with its own trace: said)."""
    if not path.is_file():
        return None
    try:
        saved = read_json(path)
        if digest(saved.get("key")) == digest(key):
            disagreement = state_disagreement(saved, classes)
            if disagreement is None:
                return SearchState.from_json(saved)
            print(f"{path}: {disagreement} (edited?); starting the search again", file=sys.stderr)
            return None
        changed = ", ".join(what_changed(saved.get("key") or {}, key))
    except (InputError, AttributeError, KeyError, IndexError, TypeError, ValueError) as error:
        print(f"{path}: damaged ({type(error).__name__}: {error}); starting the search again", file=sys.stderr)
        return None
    print(f"{path}: a search of other inputs or settings ({changed}); starting again")
    return None


def _verified(path: Path, state: SearchState, miou: float) -> SearchState | None:
    """``state`` when its saved mIoU (and its trace's last) is ``miou``, that of its settings; else None (said)."""
    last = state.trace[-1] if state.trace and isinstance(state.trace[-1], dict) else {}
    traced = last.get("mIoU")
    if isinstance(traced, (int, float)) and abs(traced / 100 - miou) <= 1e-9 and abs(state.miou - miou) <= 1e-9:
        return state
    print(
        f"{path}: its saved mIoU {100 * state.miou:.2f} is not that of its settings ({100 * miou:.2f}): edited "
        "or damaged; starting the search again",
        file=sys.stderr,
    )
    return None


def _save(path: Path, state: SearchState) -> None:
    write_json_atomic(path, state.to_json())
