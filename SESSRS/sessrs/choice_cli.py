"""The command-line options that say how thresholds are chosen from a sweep and applied, defined once for every
command that chooses (``SESSRS/get_best_t1_t2.py``, ``pipeline/sessrs_tune.py``): :func:`add_choice_arguments`
adds them to a parser, :func:`choice_settings_from` turns the parsed values into :class:`~sessrs.choose.ChoiceSettings`.
"""

from __future__ import annotations

import argparse
import math

from rscommon.files import InputError

from .choice_settings import METHOD_CHOICES, SEARCHES, SELECTIONS, ChoiceSettings
from .modes import MODES, RefineOptions
from .thresholds import APPLY_MAX_OBJECTS


def add_choice_arguments(parser: argparse.ArgumentParser) -> None:
    """``-t``, ``--max-objects``, ``--mode``, ``--search``, ``--memory-limit``, ``--select``, ``--method``,
    ``--folds`` and ``--seed``; ``--max-objects`` and ``--mode`` default to ``None`` (a command may read them from
    a ``best.json``), the others to :class:`~sessrs.choose.ChoiceSettings`'s defaults."""
    defaults = ChoiceSettings()
    parser.add_argument(
        "-t",
        "--threshold-mode",
        default=str(defaults.threshold_mode),
        help=f"largest picked t1 that is applied, or 'all' (0.99) (default {defaults.threshold_mode})",
    )
    parser.add_argument(
        "--max-objects",
        type=int,
        help=f"a list of two or more candidates this long or longer is not used (default {APPLY_MAX_OBJECTS}, as "
        "the reference applies)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        help="faithful: the reference, quirks included (default); improved: every quirk fixed, each also a switch "
        "of sessrs.RefineOptions (docs/algorithm.md lists them); the sweep is made in the same mode",
    )
    parser.add_argument(
        "--search",
        choices=SEARCHES,
        default=defaults.search,
        help="pick: each class's best sweep row (the reference); joint: from there, every class's t1/t2 and its "
        "membership in modify together, by coordinate descent on the mIoU of the full application over the tune "
        "images (needs their ground truth)",
    )
    parser.add_argument(
        "--memory-limit",
        type=float,
        metavar="GB",
        help="with --search joint: gigabytes its processes may hold together (default: a twelfth of this "
        "machine's memory); images beyond it wait on disk between steps",
    )
    parser.add_argument(
        "--select",
        choices=SELECTIONS,
        default=defaults.select,
        help="all: refine every class of the pick's modify (the reference); cv: only the classes whose gain holds "
        "out, K-fold over the tune images (needs their ground truth and the sweep's parts/; writes selection.json; "
        "not with --search joint)",
    )
    parser.add_argument(
        "--method",
        choices=METHOD_CHOICES,
        default=defaults.method,
        help="thresholds: apply the chosen thresholds (the reference); auto: apply whichever of the chosen "
        "thresholds, no refinement, the majority vote and SSA's vote has the best mIoU held out, K-fold over the "
        "tune images (needs their ground truth and the sweep's parts/; writes method_choice.json; not with "
        "--select cv; docs/object-quality.md)",
    )
    parser.add_argument(
        "--folds",
        type=int,
        default=defaults.folds,
        help=f"folds of the cv selection or --method auto (default {defaults.folds})",
    )
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="shuffles the folds of --select cv and its bootstrap"
    )


def choice_settings_from(args: argparse.Namespace) -> ChoiceSettings:
    """The settings the options of :func:`add_choice_arguments` give (checked by
    :class:`~sessrs.choose.ChoiceSettings`): ``--mode`` unset is faithful, ``--max-objects`` unset the reference's
    limit, ``--memory-limit`` gigabytes become bytes."""
    if args.memory_limit is not None and not math.isfinite(args.memory_limit):
        raise InputError(f"--memory-limit {args.memory_limit}: give the gigabytes as a finite number")
    return ChoiceSettings(
        search=args.search,
        threshold_mode=args.threshold_mode,
        max_objects=APPLY_MAX_OBJECTS if args.max_objects is None else args.max_objects,
        options=RefineOptions.for_mode(args.mode or "faithful"),
        select=args.select,
        folds=args.folds,
        seed=args.seed,
        memory_limit=None if args.memory_limit is None else int(args.memory_limit * 2**30),
        method=args.method,
    )
