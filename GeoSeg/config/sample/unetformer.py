"""UNetFormer trained briefly on the embedded LoveDA tiles (``data/real_samples/loveda``), on CPU, for the demo.

Training and prediction use the same three tiles: this checks the pipeline, it is not an evaluation. The
encoder starts from random weights on purpose (``pretrained=False``), so the learning rates are higher than the
reference's. Environment knobs for the demo and the tests: ``GEOSEG_SAMPLE_CROP`` (crop size, default 256) and
``GEOSEG_SAMPLE_REPEATS`` (crops per tile per epoch, default 4); epochs and batches per epoch come from
``train_supervision.py --max-epochs / --limit-train-batches``.
"""

import os

from geoseg.recipes import unetformer

max_epoch = 10
recipe = unetformer(
    dataset="Urban",
    samples=("loveda",),
    weights_name="unetformer-sample",
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
