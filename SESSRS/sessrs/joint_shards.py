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
import weakref
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.parallel import (
    LOCAL,
    POLL_SECONDS,
    TASK_RETRIES,
    ClusterWatch,
    Execution,
    Failure,
    WorkerKilled,
    cluster_outcomes,
    connect,
)
from rscommon.stopping import run_job, start_worker

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
    """The evaluators of some images, within ``limit`` bytes of this process's memory (None: no limit); those kept
    on disk in a folder of ``root`` (None: of the system's temporary folder), removed when the shard is closed or
    dropped."""

    def __init__(
        self,
        samples: Sequence[Sample],
        spec: DatasetSpec,
        *,
        max_objects: int,
        options: RefineOptions,
        limit: int | None = None,
        root: Path | None = None,
    ) -> None:
        self.num_classes = spec.num_classes
        self.budget = None if limit is None else max(limit - resident_bytes() - WORKING_MARGIN, 0)
        self.folder = spill_folder(root)
        self._remove = weakref.finalize(self, shutil.rmtree, self.folder, True)  # also when dropped unclosed
        self.order = [sample.stem for sample in samples]
        self.resident: dict[str, ImageEvaluator] = {}
        self.sizes: dict[str, tuple[tuple, int]] = {}
        self.spilled = {stem: SpilledImage(self.folder, stem) for stem in self.order}
        for sample in samples:
            prepared = load_prepared(sample, spec)
            gt = load_ground_truth(sample, spec, prepared.shape)
            self._keep(sample.stem, ImageEvaluator(prepared, gt, max_objects=max_objects, options=options))

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
        self._remove()

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


def _start_shard(samples: Sequence[Sample], evaluation: dict, limit: int, root: Path) -> None:
    global _SHARD
    _SHARD = Shard(samples, **evaluation, limit=limit, root=root)


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
        *,
        max_objects: int,
        options: RefineOptions,
        execution: Execution = LOCAL,
        memory_limit: int | None = None,
    ) -> None:
        self.limit = default_memory_limit() if memory_limit is None else int(memory_limit)
        evaluation = {"spec": spec, "max_objects": max_objects, "options": options}  # how a shard scores its images
        self.cluster = self.local = self.folder = None
        self.executors: list[ProcessPoolExecutor] = []
        if execution.scheduler:
            self.cluster = ClusterShards(samples, evaluation, execution.scheduler, self.limit)
            return
        self.folder = spill_folder()  # the shards' folders, removed with it even when a worker could not
        try:
            groups = _groups(samples, execution.workers)
            if len(groups) <= 1:
                self.local = Shard(samples, **evaluation, limit=self.limit, root=self.folder)
                return
            share = max(self.limit - resident_bytes(), 0) // len(groups)
            self.executors = [ProcessPoolExecutor(1, initializer=start_worker) for _ in groups]
            self._each([(_start_shard, group, evaluation, share, self.folder) for group in groups])
        except BaseException:
            self.close(abandon=True)
            raise

    def total(self, method: str, *args) -> np.ndarray:
        """The sum of every shard's answer to ``method(*args)``."""
        if self.local is not None:
            return getattr(self.local, method)(*args)
        if self.cluster is not None:
            return self.cluster.total(method, *args)
        return sum(self._each([(_call_shard, method, *args)] * len(self.executors)))

    def _each(self, calls: list[tuple]) -> list:
        """Each worker's answer to its ``(function, *args)`` (a shard's build fails with its own error, not with a
        broken pool)."""
        futures = [executor.submit(run_job, *call) for executor, call in zip(self.executors, calls)]
        try:
            return [future.result() for future in futures]
        except BrokenProcessPool as error:
            raise WorkerKilled(
                "a worker process of the joint search", f"lower {describe_limit(self.limit, len(self.executors))} or -n"
            ) from error

    def close(self, abandon: bool = False) -> None:
        """Let go of every shard and remove their files; ``abandon``: without waiting for the work under way (the
        local workers' jobs are stopped, the cluster's shards dropped)."""
        if self.local is not None:
            self.local.close()
        if self.cluster is not None:
            self.cluster.close(abandon)
        for executor in self.executors:
            if abandon:  # their jobs end at once (see rscommon.stopping); the only handle on them before 3.14
                for process in list((executor._processes or {}).values()):
                    process.terminate()
            executor.shutdown(cancel_futures=True)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> ShardPool:
        return self

    def __exit__(self, kind, *exc) -> None:
        self.close(abandon=kind is not None)


def _answered(call) -> bool:
    """Whether an actor's ``call`` has answered (its result or its error), waiting ``POLL_SECONDS`` at most."""
    try:
        call.result(timeout=POLL_SECONDS)
    except Exception:  # its own error is read again by the caller; a time-out leaves it not done
        pass
    return call.done()


class ClusterShards:
    """One :class:`Shard` actor per worker of a Dask cluster. A shard whose worker is lost (gone from the cluster, or
    not answering a call's connection) is rebuilt on another worker (every call carries the settings its images
    need), so a call gives the answer it would have given; a cluster that stalls (no worker left, or the worker of
    a shard frozen: see :class:`~rscommon.parallel.ClusterWatch`) ends the search in one line naming the images not
    done."""

    def __init__(self, samples: Sequence[Sample], evaluation: dict, scheduler: str, limit: int) -> None:
        self.client = connect(scheduler)
        try:
            self.scheduler, self.evaluation, self.count = scheduler, evaluation, len(samples)
            self.watch = ClusterWatch(self.client, scheduler)
            workers = sorted(self.watch.workers())
            self.groups = _groups(samples, len(workers))
            self.limit = limit // len(self.groups)
            placed = zip(range(len(self.groups)), [[worker] for worker in workers] or [None])
            self.futures = [self._submit(index, where) for index, where in placed]
            self.actors = self._built(range(len(self.futures)))
        except BaseException:
            self.client.close()
            raise

    def _submit(self, index: int, workers: list[str] | None):
        """An actor future (kept: the actor lives as long as its future) of shard ``index`` on one of ``workers``
        (None: any)."""
        return self.client.submit(
            Shard, self.groups[index], **self.evaluation, limit=self.limit, actor=True, pure=False, workers=workers
        )

    def _built(self, indexes: Sequence[int]) -> list:
        """The actors of the shards ``indexes``, once built (the error of a shard that could not be, as it is)."""
        futures = [self.futures[index] for index in indexes]
        names = [", ".join(sample.stem for sample in self.groups[index]) for index in indexes]
        actors = dict(cluster_outcomes(self.client, futures, self.scheduler, names, keep=True))
        for outcome in actors.values():
            if isinstance(outcome, Failure):
                raise outcome.error
        return [actors[position] for position in range(len(futures))]

    def total(self, method: str, *args) -> np.ndarray:
        total, rebuilt = 0, dict.fromkeys(range(len(self.actors)), 0)
        calls = {index: getattr(actor, method)(*args) for index, actor in enumerate(self.actors)}
        self.watch.progressed()  # the time-out counts from the handing out of this work
        while calls:
            index = next(iter(calls))
            if not _answered(calls[index]):
                for lost in self._lost(calls):
                    calls[lost] = self._rebuilt(lost, rebuilt, method, args, None)
                continue
            try:
                answer = calls[index].result()
            except OSError as error:
                # its worker could not be reached or dropped the connection: lost, though the scheduler may not know
                calls[index] = self._rebuilt(index, rebuilt, method, args, error)
                continue
            total = total + answer
            del calls[index]
            self.watch.progressed()
        return total

    def _lost(self, calls: dict) -> list[int]:
        """The shards of ``calls`` whose worker has left the cluster; a :class:`ClusterError` when the cluster has
        stalled under them."""
        present = self.watch.workers()
        busy = [self.actors[index]._address for index in calls]
        reason = self.watch.stalled(busy)
        if reason is not None:
            left = [sample.stem for index in sorted(calls) for sample in self.groups[index]]
            raise self.watch.failure(reason, left, self.count, "images")
        return [index for index in calls if self.actors[index]._address not in present]

    def _rebuilt(self, index: int, rebuilt: dict, method: str, args: tuple, error: Exception | None):
        """The call ``method(*args)`` to shard ``index`` rebuilt on another worker than its lost one (the ``error``
        of its call once it has been rebuilt ``TASK_RETRIES`` times in this call)."""
        rebuilt[index] += 1
        lost = self.actors[index]._address
        if rebuilt[index] > TASK_RETRIES and error is not None:
            raise error
        others = [worker for worker in self.watch.workers() if worker != lost]
        self.futures[index] = self._submit(index, others or None)
        (self.actors[index],) = self._built([index])
        return getattr(self.actors[index], method)(*args)

    def close(self, abandon: bool = False) -> None:
        """Remove every shard's files and disconnect; ``abandon``: without waiting for the shards (busy, or on a
        frozen worker), whose files go when their worker drops them."""
        if not abandon:
            for actor in self.actors:
                try:
                    actor.close().result(timeout=self.watch.lost_after)
                except Exception:  # a lost worker's files went with it
                    pass
        self.client.close()
