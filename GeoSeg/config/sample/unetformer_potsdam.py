"""UNetFormer trained briefly on the embedded Potsdam and Vaihingen tiles (Potsdam classes), on CPU, for the demo.

The recipe of ``config/sample/unetformer.py`` on the ISPRS tiles of ``data/real_samples``: training and
prediction use the same two tiles, so this checks the pipeline, it is not an evaluation. Random initial weights
on purpose (``pretrained=False``); the same environment knobs apply (``GEOSEG_SAMPLE_CROP``,
``GEOSEG_SAMPLE_REPEATS``).
"""

import os

from geoseg.recipes import unetformer

max_epoch = 10
recipe = unetformer(
    dataset="potsdam",
    samples=("potsdam", "vaihingen"),
    weights_name="unetformer-sample-potsdam",
    pretrained=False,
    crop_size=int(os.environ.get("GEOSEG_SAMPLE_CROP", "256")),
    sample_repeats=int(os.environ.get("GEOSEG_SAMPLE_REPEATS", "4")),
    max_epoch=max_epoch,
    train_batch_size=4,
    val_batch_size=1,
    lr=1e-3,
    backbone_lr=1e-3,
    scheduler_t0=max_epoch,
    monitor="val_mIoU",
    early_stopping_patience=max_epoch,
    test_time_aug="none",
)
