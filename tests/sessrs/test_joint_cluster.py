"""The joint search on a two-process Dask cluster on loopback equals the local search, also when a worker is lost
and its images are rebuilt on the other; a frozen worker ends the search in one line naming the images left."""

import os
import signal

import pytest
from loopback import loopback_cluster

import rscommon.parallel as parallel
from rscommon.datasets import URBAN
from rscommon.parallel import ClusterError, Execution
from sessrs.inputs import pair_inputs
from sessrs.joint import joint_search, settings_from
from sessrs.joint_shards import ShardPool
from sessrs.modes import FAITHFUL
from sessrs.sweep_engine import ThresholdGrid
from sessrs.synthetic import generate_images
from sessrs.thresholds import Thresholds

SEARCH = {"max_objects": 5, "grid": ThresholdGrid((0.3, 0.6), (0.3, 0.7)), "classes": range(7)}
START = settings_from(Thresholds(t1={1: 0.5, 5: 0.7}, t2={1: 0.55, 5: 0.8}, modify=[1, 5]), URBAN.num_classes)


def steps(state):
    return [{k: v for k, v in step.items() if k != "seconds"} for step in state.trace]


def test_the_search_on_a_cluster_equals_the_local_search_and_survives_a_lost_worker(cluster, tmp_path):
    generate_images(tmp_path, 4, seed=5, size=96)
    samples = pair_inputs(tmp_path / "pred", tmp_path / "sam", tmp_path / "gt")
    local = joint_search(samples, URBAN, START, tmp_path / "local", **SEARCH)
    on_cluster = Execution(scheduler=cluster.scheduler_address)
    remote = joint_search(samples, URBAN, START, tmp_path / "cluster", execution=on_cluster, memory_limit=1, **SEARCH)
    assert steps(remote) == steps(local) and remote.settings == local.settings
    with ShardPool(samples, URBAN, max_objects=5, options=FAITHFUL, execution=on_cluster) as pool:
        expected = pool.total("commit", None, local.settings)
        lost = pool.cluster.actors[0]._address
        next(w for w in cluster.workers.values() if w.worker_address == lost).process.process.kill()
        assert pool.total("commit", None, local.settings).tolist() == expected.tolist()


class Unreachable:
    """An actor handle whose worker the scheduler still lists but whose calls cannot connect to it, as happens to
    a lost worker's before the scheduler knows it is lost."""

    def __init__(self, address: str) -> None:
        self._address = address

    def __getattr__(self, method: str):
        return lambda *args: NotConnected()


class NotConnected:
    """The answer of a call whose connection failed (dask's own words)."""

    def result(self, timeout=None):
        raise OSError("Unable to contact Actor's worker")

    def done(self) -> bool:
        return True


def test_a_worker_whose_connection_fails_is_lost_though_still_listed(cluster, tmp_path):
    generate_images(tmp_path, 4, seed=5, size=64)
    samples = pair_inputs(tmp_path / "pred", tmp_path / "sam", tmp_path / "gt")
    cluster.wait_for_workers(2, timeout=60)  # a worker lost by another test is started again
    with ShardPool(
        samples, URBAN, max_objects=5, options=FAITHFUL, execution=Execution(scheduler=cluster.scheduler_address)
    ) as pool:
        expected = pool.total("commit", None, START)
        assert len(pool.cluster.actors) == 2
        unreachable = pool.cluster.actors[0]._address
        pool.cluster.actors[0] = Unreachable(unreachable)
        assert pool.total("commit", None, START).tolist() == expected.tolist()
        assert pool.cluster.actors[0]._address != unreachable, "its images were rebuilt on another worker"


def test_a_frozen_worker_ends_the_search_naming_the_images_left(tmp_path, monkeypatch):
    monkeypatch.setenv(parallel.IDLE_TIMEOUT_ENV, "5")  # a busy worker on a loaded machine may miss 2 s of heartbeats
    generate_images(tmp_path, 3, seed=5, size=64)
    samples = pair_inputs(tmp_path / "pred", tmp_path / "sam", tmp_path / "gt")
    with loopback_cluster(1) as cluster:
        with ShardPool(
            samples, URBAN, max_objects=5, options=FAITHFUL, execution=Execution(scheduler=cluster.scheduler_address)
        ) as pool:
            pool.total("commit", None, START)
            (worker,) = [nanny.process.process.pid for nanny in cluster.workers.values()]
            os.kill(worker, signal.SIGSTOP)
            try:
                with pytest.raises(ClusterError) as raised:
                    pool.total("commit", None, START)
            finally:
                os.kill(worker, signal.SIGCONT)
    message = str(raised.value)
    assert "made no progress for 5 s: worker tcp://127.0.0.1:" in message and "has not answered" in message
    assert "3 of 3 images not done (" in message and "\n" not in message
    assert sorted(message.split("not done (")[1].split(")")[0].split(", ")) == sorted(s.stem for s in samples)
