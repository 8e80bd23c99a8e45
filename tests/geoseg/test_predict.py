"""GeoSeg prediction on a tiny randomly initialised model (a 3x3 convolution standing in for a segmentation net:
this checks the plumbing, not accuracy): resumption keyed on what the label maps were made from, the checkpoint
choice, metrics skipped without labels, refused checkpoints, identical results on a Dask cluster, and the
scripts' one-line failures."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from image_files import pixels
from PIL import Image

from geoseg.checkpoint import (
    LIGHTNING_RECORD_MODULES,
    TRAINING_RECORD,
    load_net_weights,
    read_checkpoint,
    trained_checkpoint,
)
from geoseg.config import load_config
from geoseg.paths import GEOSEG_ROOT
from geoseg.predict import PREDICTION_RECORD, PredictOptions, predict
from rscommon.cli import run_main
from rscommon.files import InputError

TINY_CONFIG = """
import torch

from geoseg.datasets import SegmentationFolder, val_transform
from geoseg.loaders import LoaderSpec
from rscommon.datasets import get_dataset

dataset = "Urban"
spec = get_dataset(dataset)
classes, num_classes, ignore_index = spec.classes, spec.num_classes, spec.ignore_index
net = torch.nn.Conv2d(3, num_classes, 3, padding=1)
loss = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
lr_scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)
test_dataset = SegmentationFolder({root!r}, val_transform())
train_loader = val_loader = LoaderSpec(test_dataset, 1, train=False)
max_epoch, monitor, test_time_aug = 1, "val_mIoU", "none"
weights_name = test_weights_name = log_name = "tiny"
weights_path = "model_weights/tiny"
"""


def save_tiny_checkpoint(path, seed: int) -> None:
    """A Lightning-style checkpoint of a randomly initialised 3x3 convolution (8 classes)."""
    torch.manual_seed(seed)
    net = torch.nn.Conv2d(3, 8, 3, padding=1)
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}, "epoch": 0}, path)


@pytest.fixture
def tiny(tmp_path):
    """Four 40x48 images with masks, the tiny config reading them, and two checkpoints."""
    rng = np.random.default_rng(0)
    for folder in ("images", "masks"):
        (tmp_path / "data" / folder).mkdir(parents=True)
    for index in range(4):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
            tmp_path / "data/images" / f"t{index}.png"
        )
        Image.fromarray(rng.integers(0, 7, (40, 48), dtype=np.uint8)).save(tmp_path / "data/masks" / f"t{index}.png")
    config_path = tmp_path / "tiny.py"
    config_path.write_text(TINY_CONFIG.format(root=str(tmp_path / "data")))
    save_tiny_checkpoint(tmp_path / "a.ckpt", 1)
    save_tiny_checkpoint(tmp_path / "b.ckpt", 2)
    return tmp_path, config_path


def run_predict(config_path, checkpoint, out, resume=False, scheduler=None):
    options = PredictOptions(
        checkpoint=checkpoint, output=out, tta="none", batch_size=2, num_workers=0, resume=resume, scheduler=scheduler
    )
    return predict(load_config(config_path), options)


def label_maps(out) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "pre_p").glob("*.png"))}


def test_resume_keeps_only_label_maps_made_from_the_same_inputs(tiny, capsys):
    root, config = tiny
    out = root / "out"
    scores_a = run_predict(config, root / "a.ckpt", out)
    first = label_maps(out)
    assert sorted(first) == ["t0.png", "t1.png", "t2.png", "t3.png"]
    record = json.loads((out / PREDICTION_RECORD).read_text())
    assert set(record["images"]) == {"t0", "t1", "t2", "t3"}
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "pre_p").iterdir()}

    capsys.readouterr()
    assert run_predict(config, root / "a.ckpt", out, resume=True) == scores_a
    assert "4 kept, 0 to predict" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in (out / "pre_p").iterdir()} == stamps

    # A changed image at the same path is predicted again; the others are kept.
    Image.fromarray(np.full((40, 48, 3), 200, np.uint8)).save(root / "data/images/t2.png")
    run_predict(config, root / "a.ckpt", out, resume=True)
    assert "3 kept, 1 to predict" in capsys.readouterr().out
    changed = label_maps(out)
    assert changed["t2.png"] != first["t2.png"] and all(changed[n] == first[n] for n in ("t0.png", "t1.png", "t3.png"))

    # Another checkpoint: every label map and the metrics come from it, never the old ones under its name.
    scores_b = run_predict(config, root / "b.ckpt", out, resume=True)
    said = capsys.readouterr().out
    assert "inputs.checkpoint changed" in said and "0 kept, 4 to predict" in said
    fresh = root / "fresh"
    assert run_predict(config, root / "b.ckpt", fresh) == scores_b
    assert label_maps(out) == label_maps(fresh)
    assert json.loads((out / "metrics.json").read_text()) == json.loads((fresh / "metrics.json").read_text())

    # A label map edited by hand is not trusted either.
    Image.fromarray(np.zeros((40, 48), np.uint8)).save(out / "pre_p" / "t0.png")
    run_predict(config, root / "b.ckpt", out, resume=True)
    assert "3 kept, 1 to predict" in capsys.readouterr().out
    assert label_maps(out) == label_maps(fresh)


def test_without_masks_the_metrics_are_skipped_in_one_line(tiny, capsys):
    root, config = tiny
    out = root / "out"
    run_predict(config, root / "a.ckpt", out)
    assert (out / "metrics.json").is_file()
    for mask in (root / "data/masks").iterdir():
        mask.unlink()
    (root / "data/masks").rmdir()
    capsys.readouterr()
    assert run_predict(config, root / "b.ckpt", out) is None
    lines = [line for line in capsys.readouterr().out.splitlines() if "metrics skipped" in line]
    assert len(lines) == 1 and str(root / "data" / "masks") in lines[0]
    assert not (out / "metrics.json").exists(), "no figures from another run stay beside the new label maps"
    assert len(label_maps(out)) == 4


def test_checkpoint_choice_follows_the_training_record(tiny):
    root, config_path = tiny
    config = load_config(config_path)
    folder = root / "model_weights" / "tiny"
    checkpoint, why = trained_checkpoint(config, root)
    assert checkpoint == folder / "tiny.ckpt" and "test_weights_name" in why
    folder.mkdir(parents=True)
    (folder / TRAINING_RECORD).write_text(json.dumps({"best_checkpoint": "tiny-v1.ckpt"}))
    checkpoint, why = trained_checkpoint(config, root)
    assert checkpoint == folder / "tiny-v1.ckpt" and TRAINING_RECORD in why
    (folder / TRAINING_RECORD).write_text(json.dumps({"best_checkpoint": None}))
    with pytest.raises(FileNotFoundError, match="--ckpt"):
        trained_checkpoint(config, root)


class RunsCode:
    """Unpickling this object would create ``marker``: a stand-in for a checkpoint carrying code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_carrying_code_is_refused_and_the_code_does_not_run(tmp_path):
    marker = tmp_path / "code-ran"
    net = torch.nn.Conv2d(3, 8, 1)
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    torch.save({"state_dict": state, "callbacks": {"x": RunsCode(marker)}}, tmp_path / "evil.ckpt")
    with pytest.raises(InputError, match=r"evil.ckpt refused.*open") as refused:
        load_net_weights(net, tmp_path / "evil.ckpt")
    assert "\n" not in str(refused.value)
    assert not marker.exists(), "the pickled code ran"
    # A Lightning checkpoint's plain records (numpy scalars, paths) still load with weights_only=True.
    torch.save({"state_dict": state, "callbacks": {"best": np.float64(0.5), "dir": tmp_path}}, tmp_path / "ok.ckpt")
    assert read_checkpoint(tmp_path / "ok.ckpt")["callbacks"]["best"] == 0.5
    load_net_weights(net, tmp_path / "ok.ckpt")


# The third is the copy inside the ``lightning`` package, which the project does not install.
@pytest.mark.parametrize("module", LIGHTNING_RECORD_MODULES[:2])
def test_saved_hyper_parameters_are_an_allowed_record(module, tmp_path):
    """Lightning's ``AttributeDict`` (Fabric's, and PyTorch Lightning's own) loads with ``weights_only=True``, as
    the plain dict it extends."""
    attribute_dict = importlib.import_module(module).AttributeDict
    net = torch.nn.Conv2d(3, 8, 1)
    state = {f"net.{k}": v for k, v in net.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": attribute_dict(lr=0.01)}, tmp_path / "hparams.ckpt")
    hyper_parameters = read_checkpoint(tmp_path / "hparams.ckpt")["hyper_parameters"]
    assert hyper_parameters == {"lr": 0.01} and type(hyper_parameters) is dict
    load_net_weights(net, tmp_path / "hparams.ckpt")


def test_prediction_starts_without_importing_lightning(tmp_path):
    """``test.py --help`` and reading a checkpoint without hyper-parameters import no Lightning (seconds)."""
    net = torch.nn.Conv2d(3, 8, 1)
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()}}, tmp_path / "plain.ckpt")
    probe = "\n".join(
        [
            "import runpy, sys",
            "from geoseg.checkpoint import read_checkpoint",
            f"read_checkpoint({str(tmp_path / 'plain.ckpt')!r})",
            f"sys.argv = [{str(GEOSEG_ROOT / 'test.py')!r}, '--help']",
            "try:",
            "    runpy.run_path(sys.argv[0], run_name='__main__')",
            "except SystemExit:",
            "    pass",
            "print(sorted(name for name in sys.modules if 'lightning' in name))",
        ]
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_refused_runs_are_one_line_errors_and_write_nothing(tiny, capsys):
    root, config = tiny
    with pytest.raises(InputError, match="is the (image|mask) .*folder"):
        run_predict(config, root / "a.ckpt", root / "data" / "images")
    assert not (root / "data" / "images" / "pre_p").exists()
    wrong = torch.nn.Conv2d(3, 6, 3, padding=1)  # 6 classes: does not fit the 8-class config
    torch.save({"state_dict": {f"net.{k}": v for k, v in wrong.state_dict().items()}}, root / "wrong.ckpt")
    with pytest.raises(ValueError, match="wrong.ckpt does not fit Conv2d"):
        run_predict(config, root / "wrong.ckpt", root / "w")
    assert not (root / "w").exists()
    code = run_main(lambda argv: run_predict(config, root / "missing.ckpt", root / "o"), [])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "missing.ckpt not found" in err and not (root / "o").exists()
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(root / "data/images/t0.png")  # too small for the mask
    code = run_main(lambda argv: run_predict(config, root / "a.ckpt", root / "o"), [])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "t0.png" in errors[0]
    (root / "data" / "images").rename(root / "data" / "moved")
    code = run_main(lambda argv: run_predict(config, root / "a.ckpt", root / "o2"), [])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and f"image folder {root / 'data' / 'images'} not found" in errors[0]


def script(name: str, *args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GEOSEG_ROOT / name), *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.slow
def test_scripts_end_failures_in_one_line_and_take_relative_paths_from_the_current_directory(tiny):
    root, config = tiny
    done = script("test.py", "-c", "tiny.py", "--ckpt", "a.ckpt", "-o", "out", "--num-workers", "0", cwd=root)
    assert done.returncode == 0, done.stderr
    assert len(label_maps(root / "out")) == 4 and "a.ckpt (--ckpt)" in done.stdout

    (root / "broken.py").write_text("net = (\n")
    cases = {  # a missing checkpoint, data folder or small input: see the in-process tests above
        "missing config": (("train_supervision.py", "-c", "missing.py"), "missing.py not found"),
        "syntax error": (("test.py", "-c", "broken.py"), "broken.py, line 1: syntax error"),
    }
    for case, (args, message) in cases.items():
        failed = script(*args, cwd=root)
        assert failed.returncode == 2, case
        assert failed.stderr.count("\n") == 1 and message in failed.stderr and "Traceback" not in failed.stderr, case


@pytest.mark.slow
def test_cluster_prediction_equals_the_local_run(tiny):
    """The batches run as tasks on a 2-process Dask cluster on loopback; label maps and metrics are identical."""
    distributed = pytest.importorskip("dask.distributed")
    from loopback import loopback_cluster

    root, config = tiny
    local = run_predict(config, root / "a.ckpt", root / "local")
    with loopback_cluster() as cluster:
        remote = run_predict(config, root / "a.ckpt", root / "cluster", scheduler=cluster.scheduler_address)
        with distributed.Client(cluster) as client:  # tasks ran with this process's thread count (same sums)
            assert set(client.run(torch.get_num_threads).values()) == {torch.get_num_threads()}
    assert remote == local
    assert label_maps(root / "cluster") == label_maps(root / "local")
    assert pixels(root / "cluster" / "pre_p" / "t1.png").shape == (40, 48)
