"""Where the joint search's per-image work runs, within a memory budget: shards of images in this process, in local
worker processes, or as actors on a Dask cluster.

Each step of the search visits every image once, always in the same order. A :class:`Shard` keeps the evaluators
of its first images in memory while they fit its budget; every other image is kept on disk
(:class:`~sessrs.joint_spill.SpilledImage`), mapped for its turn in a step and let go after it. Between steps an
evaluator keeps only what the next step needs (:meth:`~sessrs.joint_engine.ImageEvaluator.trim`). Every call
carries the settings the search has committed to, and an image takes them on its next visit, so a step that keeps
a better setting costs no extra pass over the images. So memory is bounded by the budget, not by the number of
images, and the results are those of evaluators kept in memory.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.parallel import LOCAL, Execution, WorkerKilled, connect

from .inputs import Sample, load_ground_truth, load_prepared
from .joint_engine import ClassSetting, ImageEvaluator, Settings, class_matrices
from .joint_spill import SpilledImage, footprint, spill_folder, version
from .modes import RefineOptions

WORKING_MARGIN = 320 * 2**20
"""Memory a shard leaves free for the image it is working on (its transient arrays)."""


def default_memory_limit() -> int:
    """A twelfth of this machine's memory (2 GB on a 24 GB machine) for the sum of the search's processes.

    Images on disk cost a step about 8% more than images in memory (they are memory-mapped), so a small budget
    costs little time and leaves the machine to the rest of the pipeline."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 12


def resident_bytes() -> int:
    """This process's resident memory."""
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def describe_limit(limit: int, processes: int) -> str:
    return f"--memory-limit {limit / 2**30:.1f} GiB over {processes} process{'es' if processes > 1 else ''}"


class Shard:
    """The evaluators of some images, within ``limit`` bytes of this process's memory (None: no limit)."""

    def __init__(
        self,
        samples: Sequence[Sample],
        spec: DatasetSpec,
        max_objects: int,
        options: RefineOptions,
        limit: int | None = None,
    ) -> None:
        self.num_classes = spec.num_classes
        self.budget = None if limit is None else max(limit - resident_bytes() - WORKING_MARGIN, 0)
        self.folder = spill_folder()
        self.order = [sample.stem for sample in samples]
        self.resident: dict[str, ImageEvaluator] = {}
        self.sizes: dict[str, tuple[tuple, int]] = {}
        self.spilled = {stem: SpilledImage(self.folder, stem) for stem in self.order}
        for sample in samples:
            prepared = load_prepared(sample, spec)
            gt = load_ground_truth(sample, spec, prepared.shape)
            self._keep(sample.stem, ImageEvaluator(prepared, gt, max_objects, options))

    def matrices(
        self, stems: frozenset[str] | None, settings: Settings, cls: int, candidates: Sequence[ClassSetting]
    ) -> np.ndarray:
        """Per candidate setting of ``cls``, the other classes at ``settings`` (made current where they are not),
        the confusion matrix summed over the images in ``stems`` (None: all)."""

        def score(evaluator: ImageEvaluator) -> np.ndarray:
            if evaluator.settings != settings:
                evaluator.commit(settings)
            return class_matrices([evaluator], cls, candidates, self.num_classes)

        return self._sum(stems, score, (len(candidates), self.num_classes, self.num_classes))

    def commit(self, stems: frozenset[str] | None, settings: Settings) -> np.ndarray:
        """Make ``settings`` current on the images in ``stems``; their summed confusion matrix."""
        return self._sum(stems, lambda e: e.commit(settings), (self.num_classes, self.num_classes))

    def spilled_count(self) -> int:
        return len(self.order) - len(self.resident)

    def close(self) -> None:
        """Forget every image and remove the files of those kept on disk."""
        self.resident.clear()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _sum(self, stems: frozenset[str] | None, work, shape: tuple[int, ...]) -> np.ndarray:
        total = np.zeros(shape, np.int64)
        for stem in self.order:
            if stems is None or stem in stems:
                evaluator = self.resident.get(stem) or self.spilled[stem].load()
                total += work(evaluator)
                self._keep(stem, evaluator)
        return total

    def _keep(self, stem: str, evaluator: ImageEvaluator) -> None:
        """Keep ``evaluator`` in memory while the budget allows, else on disk; an image on disk stays there."""
        evaluator.trim()
        spilled = self.spilled[stem]
        if self.budget is None:
            self.resident[stem] = evaluator
            return
        if not spilled.stored:
            current = version(evaluator)
            known, size = self.sizes.pop(stem, (None, 0))
            if known != current:  # weighing an image walks all its objects: only when it changed
                size = footprint(evaluator)
            used = sum(weight for _, weight in self.sizes.values())
            if used + size <= self.budget:
                self.resident[stem], self.sizes[stem] = evaluator, (current, size)
                return
            self.resident.pop(stem, None)
        spilled.save(evaluator)


_SHARD: Shard | None = None


def _start_shard(*args) -> None:
    global _SHARD
    _SHARD = Shard(*args)


def _call_shard(method: str, *args):
    return getattr(_SHARD, method)(*args)


def _groups(samples: Sequence[Sample], count: int) -> list[list[Sample]]:
    groups = [list(samples[i :: max(count, 1)]) for i in range(max(count, 1))]
    return [group for group in groups if group]


class ShardPool:
    """Images split over shards where ``execution`` says, within ``memory_limit`` bytes for all of them together
    (None: :func:`default_memory_limit`), each shard keeping its images between calls.

    Several searches over subsets of the images (the folds of a held-out protocol) can share one pool: the
    caches of an image do not depend on which other images are searched with it.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        spec: DatasetSpec,
        max_objects: int,
        options: RefineOptions,
        execution: Execution = LOCAL,
        memory_limit: int | None = None,
    ) -> None:
        self.limit = default_memory_limit() if memory_limit is None else int(memory_limit)
        args = (spec, max_objects, options)
        self.cluster = self.local = None
        self.executors: list[ProcessPoolExecutor] = []
        if execution.scheduler:
            self.cluster = ClusterShards(samples, args, execution.scheduler, self.limit)
            return
        groups = _groups(samples, execution.workers)
        if len(groups) <= 1:
            self.local = Shard(samples, *args, self.limit)
            return
        share = max(self.limit - resident_bytes(), 0) // len(groups)
        self.executors = [
            ProcessPoolExecutor(1, initializer=_start_shard, initargs=(group, *args, share)) for group in groups
        ]

    def total(self, method: str, *args) -> np.ndarray:
        """The sum of every shard's answer to ``method(*args)``."""
        if self.local is not None:
            return getattr(self.local, method)(*args)
        if self.cluster is not None:
            return self.cluster.total(method, *args)
        futures = [executor.submit(_call_shard, method, *args) for executor in self.executors]
        try:
            return sum(future.result() for future in futures)
        except BrokenProcessPool as error:
            raise WorkerKilled(
                "a worker process of the joint search", f"lower {describe_limit(self.limit, len(self.executors))} or -n"
            ) from error

    def close(self) -> None:
        if self.local is not None:
            self.local.close()
        if self.cluster is not None:
            self.cluster.close()
        for executor in self.executors:
            try:
                executor.submit(_call_shard, "close").result()
            except BrokenProcessPool:
                pass  # its process is gone; so is its work
            executor.shutdown(cancel_futures=True)

    def __enter__(self) -> ShardPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ClusterShards:
    """One :class:`Shard` actor per worker of a Dask cluster; a lost worker's images are rebuilt on another worker
    (every call carries the settings its images need), so a call gives the answer it would have given."""

    def __init__(self, samples: Sequence[Sample], args: tuple, scheduler: str, limit: int) -> None:
        self.client = connect(scheduler)
        self.args = args
        workers = sorted(self.client.scheduler_info()["workers"])
        self.groups = _groups(samples, len(workers))
        self.limit = limit // len(self.groups)
        self.futures = [self._submit(group, worker) for group, worker in zip(self.groups, workers)]
        self.actors = [future.result() for future in self.futures]

    def _submit(self, group: list[Sample], worker: str | None = None):
        """An actor future (kept: the actor lives as long as its future) of a shard of ``group``."""
        return self.client.submit(
            Shard, group, *self.args, self.limit, actor=True, pure=False, workers=None if worker is None else [worker]
        )

    def total(self, method: str, *args) -> np.ndarray:
        calls = [getattr(actor, method)(*args) for actor in self.actors]
        total = 0
        for index, call in enumerate(calls):
            try:
                total = total + call.result()
            except Exception:  # the actor's worker may be gone: then its images are rebuilt elsewhere
                if self.actors[index]._address in self.client.scheduler_info()["workers"]:
                    raise
                self.futures[index] = self._submit(self.groups[index])
                self.actors[index] = self.futures[index].result()
                total = total + getattr(self.actors[index], method)(*args).result()
        return total

    def close(self) -> None:
        for actor in self.actors:
            try:
                actor.close().result()
            except Exception:  # a lost worker's files went with it
                pass
        self.client.close()
