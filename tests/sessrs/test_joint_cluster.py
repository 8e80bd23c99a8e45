"""The joint search on a two-process Dask cluster on loopback equals the local search, also when a worker is lost
and its images are rebuilt on the other."""
from collections.abc import Iterator

import pytest
from distributed import LocalCluster

from rscommon.datasets import URBAN
from rscommon.parallel import Execution
from sessrs.inputs import pair_inputs
from sessrs.joint import joint_search, settings_from
from sessrs.joint_shards import ShardPool
from sessrs.modes import FAITHFUL
from sessrs.sweep_engine import ThresholdGrid
from sessrs.synthetic import generate_scenes
from sessrs.thresholds import Thresholds

SEARCH = {"max_objects": 5, "grid": ThresholdGrid((0.3, 0.6), (0.3, 0.7)), "classes": range(7)}
START = settings_from(Thresholds(t1={1: 0.5, 5: 0.7}, t2={1: 0.55, 5: 0.8}, modify=[1, 5]), URBAN.num_classes)


@pytest.fixture(scope="module")
def loopback_cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield cluster


def steps(state):
    return [{k: v for k, v in step.items() if k != "seconds"} for step in state.trace]


def test_the_search_on_a_cluster_equals_the_local_search_and_survives_a_lost_worker(loopback_cluster, tmp_path):
    generate_scenes(tmp_path, 4, seed=5, size=96)
    samples = pair_inputs(tmp_path / "pred", tmp_path / "sam", tmp_path / "gt")
    local = joint_search(samples, URBAN, START, tmp_path / "local", **SEARCH)
    cluster = Execution(scheduler=loopback_cluster.scheduler_address)
    remote = joint_search(samples, URBAN, START, tmp_path / "cluster", execution=cluster, memory_limit=1, **SEARCH)
    assert steps(remote) == steps(local) and remote.settings == local.settings
    with ShardPool(samples, URBAN, 5, FAITHFUL, cluster) as pool:
        expected = pool.total("commit", None, local.settings)
        lost = pool.cluster.actors[0]._address
        next(w for w in loopback_cluster.workers.values() if w.worker_address == lost).process.process.kill()
        assert pool.total("commit", None, local.settings).tolist() == expected.tolist()
