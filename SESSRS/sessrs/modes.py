"""The refinement's options: ``faithful`` keeps every quirk of the reference, ``improved`` fixes them.

Each fix is its own switch, so a study can turn on one at a time. The quirks are listed in docs/algorithm.md,
"Quirks of the reference and the improved mode"; the numbers below refer to that table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from rscommon.files import InputError

REFERENCE_BIG_OBJECT_PIXELS = 200_000
"""Objects over this many pixels are too big to replace an instance (the reference's fixed limit)."""
REFERENCE_TILE_PIXELS = 1024 * 1024
"""The tile size the reference's limit was set for: 200,000 pixels is 19% of a LoveDA tile."""
MODES = ("faithful", "improved")


@dataclass(frozen=True)
class RefineOptions:
    """Which of the reference's quirks to fix; the defaults keep them all (the faithful mode).

    - ``skip_big_objects_alone`` (quirk 1): an object over the size limit is left out of an instance's candidate
      list on its own, instead of emptying the list gathered before it.
    - ``big_object_fraction``: the size limit as a fraction of the image's pixels, so that it scales with the
      image (``None``: the reference's fixed 200,000 pixels, which is more than a whole 512 x 512 tile).
    - ``conflicts_to_better_class`` (quirk 2): a pixel claimed by several settled conflict components goes to the
      class that matches its component best (highest IoU with one of its instances), instead of to class 0.
    - ``same_object_limit`` (quirk 3): the sweep judges thresholds with the object limit of the application
      (``max_objects`` 5), so that what the sweep measured is what the application does.
    - ``only_refined_classes_take_objects`` (also quirk 3): only classes in ``modify`` give SAM objects a class
      (step 2). In the reference, a class left out of ``modify`` still takes objects with its picked t1, and
      those objects cut pixels out of the refined classes' objects (step 3), which the sweep never saw.
    - ``fill_from_neighbourhood`` (quirk 5): a region left without a class is filled from its 8-neighbours in
      the image, not only from those inside its bounding box (where a region that fills its box finds none).
    """

    skip_big_objects_alone: bool = False
    big_object_fraction: float | None = None
    conflicts_to_better_class: bool = False
    same_object_limit: bool = False
    only_refined_classes_take_objects: bool = False
    fill_from_neighbourhood: bool = False

    def __post_init__(self) -> None:
        if self.big_object_fraction is not None and not 0 < self.big_object_fraction <= 1:
            raise InputError(f"big_object_fraction {self.big_object_fraction!r} must be in (0, 1] or None")

    @classmethod
    def faithful(cls) -> RefineOptions:
        """The reference's behaviour, quirks included (reproduces every reference fixture)."""
        return cls()

    @classmethod
    def improved(cls) -> RefineOptions:
        """Every quirk fixed; the size limit keeps the reference's share of a 1024 x 1024 tile (19.07%)."""
        return cls(
            skip_big_objects_alone=True,
            big_object_fraction=REFERENCE_BIG_OBJECT_PIXELS / REFERENCE_TILE_PIXELS,
            conflicts_to_better_class=True,
            same_object_limit=True,
            only_refined_classes_take_objects=True,
            fill_from_neighbourhood=True,
        )

    @classmethod
    def for_mode(cls, mode: str) -> RefineOptions:
        """The preset named ``faithful`` or ``improved``."""
        if mode not in MODES:
            raise InputError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        return cls.faithful() if mode == "faithful" else cls.improved()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RefineOptions:
        """Options from their :meth:`to_json` form; unknown names are refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown refinement options: {', '.join(unknown)}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def mode(self) -> str:
        """``faithful`` or ``improved`` when the options are one of the presets, else ``custom``."""
        for name in MODES:
            if self == RefineOptions.for_mode(name):
                return name
        return "custom"

    def big_object_pixels(self, image_pixels: int) -> float:
        """The size (pixels) over which an object is too big to replace an instance, in an image of this size."""
        if self.big_object_fraction is None:
            return REFERENCE_BIG_OBJECT_PIXELS
        return self.big_object_fraction * image_pixels

    def sweep_object_limit(self, sweep_limit: int, apply_limit: int) -> int:
        """The ``max_objects`` the sweep should use: its own, or the application's when ``same_object_limit``."""
        return apply_limit if self.same_object_limit else sweep_limit


FAITHFUL = RefineOptions.faithful()
IMPROVED = RefineOptions.improved()


def check_sweep_options(sweep: Mapping[str, Any], options: RefineOptions, source: Any = "sweep") -> None:
    """Refuse to pick from a sweep made with other refinement options (a sweep without a record is faithful)."""
    try:
        made_with = RefineOptions.from_json(sweep.get("options") or {})
    except (TypeError, ValueError) as error:
        raise InputError(f"{source}: options: not refinement options ({error})") from error
    if made_with != options:
        raise InputError(
            f"{source}: swept in {made_with.mode} mode, picked in {options.mode} mode; "
            f"give --mode {made_with.mode}, or sweep again with --mode {options.mode}"
        )
