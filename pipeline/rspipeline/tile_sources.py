"""Where a tile's prediction comes from: a class raster on the scene's grid, or a GeoSeg network's class scores on
the tile (blended over the overlaps into a class raster by :mod:`rspipeline.scene_blend` before any refinement).

Each is a small frozen dataclass that travels with every tile job (to a local process or a Dask worker); the
network a config names is built once per process, on first use, and kept for the process's next tiles. GeoSeg
(and with it PyTorch) is imported only when a config predicts. (The objects come from the SAM stage's
``SourceRecipe``, which a worker rebuilds the same way.)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.files import InputError

from .raster import DECLARED, ClassNodata, open_raster, read_class_window
from .tiling import Tile

MODEL_MIN_SIDE = 256  # tiles are predicted at least this large, then as the network's input rule needs
UNRULED_SIDE_MULTIPLE = 32  # a config's own network, which declares no input rule: the usual encoders halve 5 times


@dataclass(frozen=True)
class PredictionRaster:
    """The prediction is read from a class raster on the scene's grid (its nodata as ``nodata`` says)."""

    path: Path
    nodata: ClassNodata = DECLARED

    def read(self, tile: Tile, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
        """The tile's classes (nodata pixels 0) and which pixels have one."""
        with open_raster(self.path) as dataset:
            return read_class_window(dataset, tile.window, spec, self.nodata)


@dataclass(frozen=True)
class GeoSegPrediction:
    """The prediction is made per tile by a GeoSeg config's network with its checkpoint.

    CPU sums differ in their last bits with the number of threads, so every process predicts with ``threads``
    (the client's): a tile predicted on a cluster worker equals the one predicted locally.
    """

    config: Path
    checkpoint: Path
    tta: str
    device: str | None
    threads: int
    why: str = ""

    def scores(self, image: np.ndarray) -> np.ndarray:
        """The C x H x W class probabilities (float32) of an H x W x 3 uint8 tile."""
        import torch

        from geoseg.datasets.augment import val_transform

        model, device, padded = _geoseg_model(self)
        torch.set_num_threads(self.threads)
        height, width = image.shape[:2]
        normalized = val_transform()(image=image)["image"]
        pad = [(0, padded(max(MODEL_MIN_SIDE, size)) - size) for size in (height, width)]
        normalized = np.pad(normalized, [*pad, (0, 0)], mode="reflect")
        batch = torch.from_numpy(np.ascontiguousarray(normalized.transpose(2, 0, 1)))[None].to(device)
        with torch.no_grad():
            probabilities = model(batch).softmax(dim=1)[0, :, :height, :width]
        return probabilities.cpu().numpy().astype(np.float32)


def geoseg_prediction(
    config: str | Path,
    checkpoint: str | Path | None,
    tta: str | None,
    device: str | None,
    spec: DatasetSpec,
    work_dir: Path | None = None,
) -> GeoSegPrediction:
    """A validated :class:`GeoSegPrediction`: the config exists, is for ``spec``'s dataset and has its checkpoint,
    found as GeoSeg's test.py finds it (``work_dir``, default GeoSeg/, is the base of the config's paths)."""
    import torch

    from geoseg.checkpoint import trained_checkpoint
    from geoseg.cli import find_config
    from geoseg.config import load_config
    from geoseg.inference import TTA_CHOICES
    from geoseg.paths import GEOSEG_ROOT

    config_path = find_config(config)
    loaded = load_config(config_path, pretrained=False)  # the checkpoint supplies every weight
    if loaded.dataset != spec.name:
        raise InputError(f"{config_path}: predicts {loaded.dataset} classes, but --dataset is {spec.name}")
    why = "--ckpt"
    if checkpoint is None:  # as GeoSeg's test.py: the last training's best, else the config's test_weights_name
        try:
            checkpoint, why = trained_checkpoint(loaded, (work_dir or GEOSEG_ROOT).resolve())
        except FileNotFoundError as error:
            raise InputError(str(error)) from None
    checkpoint = Path(checkpoint).resolve()
    if not checkpoint.is_file():
        raise InputError(
            f"{checkpoint}: checkpoint of {config_path.name} not found ({why}); train it, pass "
            f"--ckpt, or --work-dir the folder the training ran in (make demo: outputs/demo/<set>/geoseg)"
        )
    tta = tta or loaded.test_time_aug
    if tta not in TTA_CHOICES:
        raise InputError(f"test-time augmentation {tta!r}: choose one of {', '.join(TTA_CHOICES)}")
    return GeoSegPrediction(config_path, checkpoint, tta, device, torch.get_num_threads(), why)


@lru_cache(maxsize=1)
def _geoseg_model(prediction: GeoSegPrediction):
    """The network with its weights and test-time augmentation, its device, and the side a tile side is padded to
    (what the network's input rule takes at every test-time scale)."""
    import torch

    from geoseg.checkpoint import load_net_weights
    from geoseg.cli import pick_device
    from geoseg.config import load_config
    from geoseg.inference import tta_scales, with_tta
    from geoseg.input_checks import padded_side
    from geoseg.models.input_size import InputRule, input_rule_of

    device = torch.device(prediction.device) if prediction.device else pick_device(None)
    net = load_config(prediction.config, pretrained=False).net
    load_net_weights(net, prediction.checkpoint)
    rule = input_rule_of(net) or InputRule(multiple=UNRULED_SIDE_MULTIPLE)
    padded = partial(padded_side, rule, scales=tta_scales(prediction.tta))
    return with_tta(net.to(device).eval(), prediction.tta), device, padded
