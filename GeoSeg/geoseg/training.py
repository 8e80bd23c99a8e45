"""The Lightning module that trains a config's net with its loss, optimiser and scheduler, and scores it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytorch_lightning as pl
import torch

from rscommon.datasets import DatasetSpec
from rscommon.metrics import compute_scores, confusion_matrix

from .input_checks import check_batch


class ConfusionAccumulator:
    """Sums confusion matrices over batches (pixels whose label is the ignore index are left out)."""

    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self.reset()

    def reset(self) -> None:
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def add(self, labels: torch.Tensor, predictions: torch.Tensor) -> None:
        self.matrix += confusion_matrix(labels.cpu().numpy(), predictions.cpu().numpy(), self.num_classes)


def main_output(prediction: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The main logits of a net's output (UNetFormer returns ``(main, aux)`` while training)."""
    return prediction[0] if isinstance(prediction, (tuple, list)) else prediction


class SupervisedSegmentation(pl.LightningModule):
    """Trains ``config.net`` (stored as ``self.net``, so checkpoints hold ``net.*`` keys like the reference's).

    Logs per epoch ``{train,val}_{mIoU,F1,OA}`` (means over the dataset's scored classes), the losses and the
    per-class validation IoU.
    """

    def __init__(self, config, spec: DatasetSpec):
        super().__init__()
        self.config = config
        self.spec = spec
        self.net = config.net
        self.loss = config.loss
        self.train_confusion = ConfusionAccumulator(config.num_classes)
        self.val_confusion = ConfusionAccumulator(config.num_classes)

    def forward(self, x: torch.Tensor, images: Sequence[str] = ()) -> torch.Tensor:
        """The net's output; a batch the net cannot take (a crop too small for it, ...) is an error naming its size,
        the config and the ``images`` it holds (when they are named), before the net runs."""
        where = f"config {getattr(self.config, 'config_path', '?')}: " + (
            f"images {', '.join(images)}" if images else "check crop_size and the image sizes"
        )
        check_batch(self.net, x, where)
        return self.net(x)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        labels = batch["gt_semantic_seg"]
        prediction = self(batch["img"])
        loss = self.loss(prediction, labels)
        self.train_confusion.add(labels, main_output(prediction).argmax(dim=1))
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=labels.shape[0])
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        labels = batch["gt_semantic_seg"]
        prediction = self(batch["img"], batch["img_id"])
        self.val_confusion.add(labels, main_output(prediction).argmax(dim=1))
        self.log("val_loss", self.loss(prediction, labels), on_step=False, on_epoch=True, batch_size=labels.shape[0])

    def on_train_epoch_end(self) -> None:
        self._log_scores("train", self.train_confusion, per_class=False)

    def on_validation_epoch_end(self) -> None:
        self._log_scores("val", self.val_confusion, per_class=True)

    def _log_scores(self, stage: str, confusion: ConfusionAccumulator, per_class: bool) -> None:
        if self.trainer.sanity_checking:
            confusion.reset()
            return
        scores = compute_scores(confusion.matrix, self.spec.scored)
        values = {f"{stage}_mIoU": scores.miou, f"{stage}_F1": scores.mf1, f"{stage}_OA": scores.oa}
        if per_class:
            values.update({f"{stage}_IoU_{self.spec.classes[c]}": scores.iou[c] for c in self.spec.scored})
        self.log_dict({k: float(np.nan_to_num(v)) for k, v in values.items()}, prog_bar=False)
        confusion.reset()

    def configure_optimizers(self):
        return {"optimizer": self.config.optimizer, "lr_scheduler": {"scheduler": self.config.lr_scheduler}}
