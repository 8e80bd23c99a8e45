"""One prediction run per output folder: a second run into a folder held by a running one is refused in one line
and writes nothing."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from geoseg.datasets import SegmentationFolder, val_transform
from geoseg.predict import PREDICTION_RECORD, PredictOptions, predict
from rscommon.files import InputError
from rscommon.locks import folder_lock, locked


def test_a_second_prediction_into_a_held_output_is_refused(tmp_path):
    for folder in ("images", "masks"):
        (tmp_path / "data" / folder).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8, 3) if folder == "images" else (8, 8), np.uint8)).save(
            tmp_path / "data" / folder / "t0.png"
        )
    net = torch.nn.Identity()  # declares no input rule: any image passes the checks made before the lock
    config = SimpleNamespace(test_dataset=SegmentationFolder(tmp_path / "data", val_transform()), net=net)
    (tmp_path / "a.ckpt").write_bytes(b"not read: the run is refused first")
    out = tmp_path / "out"
    options = PredictOptions(checkpoint=tmp_path / "a.ckpt", output=out, tta="none", batch_size=1, num_workers=0)
    with locked(folder_lock(out), "the first run"):
        with pytest.raises(InputError, match=rf"-o {out}: in use by process {os.getpid()} on "):
            predict(config, options)
    assert not (out / PREDICTION_RECORD).exists() and not (out / "pre_p").exists()
