"""SESSRS: refine semantic segmentation predictions with segment-anything object masks, without training.

The library in brief (arrays, or folders of files as the scripts use them)::

    import sessrs
    objects = sessrs.objects_from_masks(masks)                  # or sessrs.read_objects("image.json")
    refined = sessrs.refine(pred, objects, sessrs.Thresholds(t1={1: 0.5}, t2={1: 0.6}, modify=[1]))
    sweep = sessrs.sweep_folder("pred", "sam", "gt", "out", "Urban")   # or sessrs.sweep_arrays(...)
    best = sessrs.pick_thresholds(sweep, "Urban")                # a Thresholds; best.write("best.json")
    # or published thresholds shipped with the package: sessrs.presets() lists them
    best = sessrs.preset("reference-urban-unetformer-sam")
    sessrs.apply_thresholds(best, "pred", "sam", "refined", "Urban", gt_dir="gt")
    # or choose (per-class pick or joint search) and apply in one step, as get_best_t1_t2.py does:
    sessrs.choose_folder("out/sweep.json", "pred", "sam", "chosen", "Urban", gt_dir="gt",
                         settings=sessrs.ChoiceSettings(search="joint"), execution=sessrs.Execution(workers=2))

Only the core dependencies are imported (NumPy, OpenCV, pycocotools, Pillow, SciPy, tqdm, Matplotlib).
"""

from rscommon.datasets import DatasetSpec, get_dataset
from rscommon.objects import read_objects
from rscommon.parallel import Execution

from .api import apply_thresholds, choose_folder, objects_from_masks, refine, sweep_arrays, sweep_folder
from .choice_settings import ChoiceSettings
from .choose import Choice
from .folders import ChoiceFolder, SweepFolder
from .modes import RefineOptions
from .pick import pick_thresholds
from .presets import preset, presets
from .sweep_engine import ThresholdGrid
from .thresholds import APPLY_MAX_OBJECTS, SWEEP_MAX_OBJECTS, Thresholds
from .validate import read_sweep
from .voting import majority_vote, ssa_vote

__all__ = [
    "APPLY_MAX_OBJECTS",
    "SWEEP_MAX_OBJECTS",
    "Choice",
    "ChoiceFolder",
    "ChoiceSettings",
    "DatasetSpec",
    "Execution",
    "RefineOptions",
    "ThresholdGrid",
    "Thresholds",
    "apply_thresholds",
    "choose_folder",
    "get_dataset",
    "majority_vote",
    "objects_from_masks",
    "pick_thresholds",
    "preset",
    "presets",
    "read_objects",
    "read_sweep",
    "refine",
    "ssa_vote",
    "sweep_arrays",
    "sweep_folder",
    "SweepFolder",
]
