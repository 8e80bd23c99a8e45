"""The sweep and the pick's application with ``--scheduler`` on a two-process ``LocalCluster`` on loopback give the
local results, and an image failing on the cluster is reported while every other image's result is kept."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from sessrs_cases import copy_fixture_scenes

import sessrs.sweep as sweep_module
from rscommon.cli import run_main
from rscommon.datasets import URBAN
from rscommon.labels import read_label_png
from sessrs.choose import ChoiceSettings, choose_and_apply
from sessrs.folders import ChoiceFolder
from sessrs.inputs import pair_inputs
from sessrs.sweep import run_sweep

REPO = Path(__file__).resolve().parents[2]
SCENES = REPO / "tests" / "fixtures" / "sessrs_reference" / "scenes"
STEMS = ["01000", "01002", "01008"]
CLASSES = [1, 6]
sys.path.insert(0, str(REPO / "SESSRS"))
import get_best_t1_t2  # noqa: E402
import sessrs_t1_t2  # noqa: E402


@pytest.fixture
def data(tmp_path: Path) -> Path:
    copy_fixture_scenes(tmp_path, STEMS)
    return tmp_path


def run(module, *args) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = run_main(module.main, [str(arg) for arg in args])
    return code, stderr.getvalue()


def inputs(data: Path) -> list:
    return ["--pred-dir", data / "pred", "--sam-dir", data / "sam", "--gt-dir", data / "gt", "--dataset", "Urban"]


def test_sweep_and_application_on_the_cluster_equal_the_local_run(data, scheduler):
    samples = pair_inputs(data / "pred", data / "sam", data / "gt")
    local_sweep = run_sweep(samples, URBAN, data / "local", classes=CLASSES)
    local = choose_and_apply(
        data / "local" / "sweep.json",
        samples,
        samples,
        URBAN,
        ChoiceFolder(data / "local"),
        settings=ChoiceSettings(threshold_mode="all"),
    )
    code, stderr = run(
        sessrs_t1_t2, *inputs(data), "--classes", *CLASSES, "--out", data / "cluster", "--scheduler", scheduler
    )
    assert code == 0, stderr
    assert json.loads((data / "cluster" / "sweep.json").read_text()) == local_sweep
    code, stderr = run(
        get_best_t1_t2,
        *inputs(data),
        "--sweep",
        data / "cluster" / "sweep.json",
        "-t",
        "all",
        "--out",
        data / "cluster",
        "--scheduler",
        scheduler,
    )
    assert code == 0, stderr
    assert local.thresholds.modify, "the pick refines something"
    assert json.loads((data / "cluster" / "metrics.json").read_text()) == local.report
    for stem in STEMS:
        assert np.array_equal(
            read_label_png(data / "cluster" / "se_mask" / f"{stem}.png"),
            read_label_png(data / "local" / "se_mask" / f"{stem}.png"),
        )


def test_an_image_failing_on_the_cluster_is_reported_and_the_others_are_kept(data, scheduler, monkeypatch):
    broken = data / "sam" / "01002.json"
    good = broken.read_text()
    objects = json.loads(good)
    objects[0]["area"] += 1
    broken.write_text(json.dumps(objects))
    code, stderr = run(
        sessrs_t1_t2, *inputs(data), "--classes", *CLASSES, "--out", data / "out", "--scheduler", scheduler
    )
    assert code == 2
    assert stderr.strip().splitlines()[-1].startswith(f"error: {broken}: object 0: area field")
    assert sorted(p.stem for p in (data / "out" / "parts").glob("*.npz")) == ["01000", "01008"]
    broken.write_text(good)
    computed = []
    original = sweep_module._sweep_sample
    monkeypatch.setattr(sweep_module, "_sweep_sample", lambda job: computed.append(job[0].stem) or original(job))
    samples = pair_inputs(data / "pred", data / "sam", data / "gt")
    resumed = run_sweep(samples, URBAN, data / "out", classes=CLASSES)
    assert computed == ["01002"]
    assert resumed == run_sweep(samples, URBAN, data / "clean", classes=CLASSES)


def test_relative_paths_give_the_same_files_in_the_same_place_with_and_without_the_cluster(
    data, scheduler, monkeypatch
):
    """The workers' working folder (where the cluster started) is not the client's: every path leaves absolute."""
    monkeypatch.chdir(data)
    relative = ["--pred-dir", "pred", "--sam-dir", "sam", "--gt-dir", "gt", "--dataset", "Urban"]
    for out, cluster in (("here", []), ("there", ["--scheduler", scheduler])):
        code, stderr = run(sessrs_t1_t2, *relative, "--classes", *CLASSES, "--out", out, *cluster)
        assert code == 0, stderr
        code, stderr = run(
            get_best_t1_t2, *relative, "--sweep", f"{out}/sweep.json", "-t", "all", "--out", f"{out}/chosen", *cluster
        )
        assert code == 0, stderr
    assert json.loads((data / "there" / "sweep.json").read_text()) == json.loads(
        (data / "here" / "sweep.json").read_text()
    )
    for stem in STEMS:
        assert np.array_equal(
            read_label_png(data / "there" / "chosen" / "se_mask" / f"{stem}.png"),
            read_label_png(data / "here" / "chosen" / "se_mask" / f"{stem}.png"),
        )
    assert not list(REPO.glob("there")), "nothing lands in the workers' working folder"
