"""How thresholds are chosen and applied: :class:`ChoiceSettings`, shared by :mod:`sessrs.choose` and the held-out
checks it runs (:mod:`sessrs.selection`, :mod:`sessrs.method_choice`), which read their settings from it whole."""

from __future__ import annotations

from dataclasses import dataclass

from rscommon.files import InputError

from .modes import FAITHFUL, RefineOptions
from .pick import threshold_limit
from .thresholds import APPLY_MAX_OBJECTS, check_max_objects

SEARCHES = ("pick", "joint")
SELECTIONS = ("all", "cv")
METHOD_CHOICES = ("thresholds", "auto")
"""``ChoiceSettings.method``: the per-class thresholds (the reference), or the method chosen held out."""


@dataclass(frozen=True)
class ChoiceSettings:
    """How thresholds are chosen and applied.

    ``search``: ``pick`` (each class's best sweep row, the reference) or ``joint`` (coordinate descent from the
    pick on the full application's mIoU over the tune images). ``threshold_mode``: the largest picked t1 put into
    ``modify`` (``all``: 0.99). ``max_objects`` and ``options``: the application's object limit and refinement mode
    (the sweep's mode must be the same). ``select``: ``all`` refines every class of the pick's ``modify`` (the
    reference); ``cv`` only those whose gain holds out over ``folds`` folds of the tune images (``seed`` shuffles
    them and draws the bootstrap; the pick only, not the joint search). ``memory_limit``: bytes the joint search's
    processes may hold together (None: a twelfth of this machine's memory); images beyond it wait on disk between
    steps. ``method``: ``thresholds`` applies the thresholds chosen (the reference); ``auto`` chooses between
    the thresholds chosen (the pick or the joint search), no refinement and the two votes by their mIoU held out
    over ``folds`` folds of the tune images (:mod:`sessrs.method_choice`; not with ``select="cv"``).
    """

    search: str = "pick"
    threshold_mode: str | float = 0.7
    max_objects: int = APPLY_MAX_OBJECTS
    options: RefineOptions = FAITHFUL
    select: str = "all"
    folds: int = 5
    seed: int = 0
    memory_limit: int | None = None
    method: str = "thresholds"

    def __post_init__(self) -> None:
        if self.search not in SEARCHES:
            raise InputError(f"search {self.search!r} is not one of {', '.join(SEARCHES)}")
        threshold_limit(self.threshold_mode)
        check_max_objects(self.max_objects)
        for name, least in (("folds", 2), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InputError(f"{name} must be a whole number of at least {least}, got {value!r}")
        if self.select not in SELECTIONS:
            raise InputError(f"select {self.select!r} is not one of {', '.join(SELECTIONS)}")
        if self.select == "cv" and self.search != "pick":
            raise InputError(
                "select cv keeps or drops classes of the per-class pick: it does not follow the joint "
                "search, which already scores every class in the full application"
            )
        if self.method not in METHOD_CHOICES:
            raise InputError(f"method {self.method!r} is not one of {', '.join(METHOD_CHOICES)}")
        if self.method == "auto" and self.select != "all":
            raise InputError("method auto compares the thresholds, held out, with the votes: not with select cv")
        if self.memory_limit is not None and self.memory_limit < 2**20:
            raise InputError(f"memory_limit must be at least 1 MiB, got {self.memory_limit!r} bytes")
