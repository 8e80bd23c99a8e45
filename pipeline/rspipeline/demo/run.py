"""The demo run: every sample set through tiles, GeoSeg, objects, SESSRS under both protocols and the peers,
then the report and the closing summary.

Everything lands under the output folder; running again reuses what is already there (training, predictions,
objects, sweeps and applications are each resumable).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import numpy as np

from rscommon.datasets import DatasetSpec
from rscommon.files import write_json_atomic
from rspipeline.report import write_report
from sessrs.inputs import pair_inputs
from sessrs.thresholds import Thresholds

from .assembly import heatmaps, protocol_tables, report_top, set_group, tile_panels
from .console import Console
from .objects import ObjectChoice, choose_objects
from .protocols import SESSRS_VARIANTS, fold_summary, protocol_folds, tune_and_apply, variant_folder, variant_sweep
from .samples import SAMPLE_SETS, DemoFolder, SampleSet, Workspace, crop_predictions, prepare_set
from .scores import evaluate_peers, fixed_peers, pooled, refined_matrices
from .settings import DemoSettings
from .stages import is_trained, make_objects, predict, train
from .summary import summary_lines

REPORT_TITLE = "SESSRS demo on the embedded real tiles"


@dataclass
class SessrsResults:
    """Per protocol and SESSRS variant the pooled confusion matrix of its maps; the fold summaries per protocol;
    the reference protocol's (faithful) sweep."""

    matrices: dict[str, dict[str, np.ndarray]]
    folds: dict[str, list[dict]]
    reference_sweep: dict


def tune_sessrs(
    tiles: Sequence[str], work: Workspace, spec: DatasetSpec, settings: DemoSettings, console: Console
) -> SessrsResults:
    """Every fold of every protocol through the SESSRS stage, once per variant. Each variant refines each
    evaluation tile once, into its fold's refined-maps folder, and is scored from there."""
    folds = [(protocol, fold) for protocol, folds in protocol_folds(tiles).items() for fold in folds]
    per_tile: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    results = SessrsResults(matrices={}, folds={}, reference_sweep={})
    samples = pair_inputs(work.pred, work.sam, work.gt)
    steps = [(protocol, fold, variant) for protocol, fold in folds for variant in SESSRS_VARIANTS]
    chosen: dict[str, Thresholds] = {}
    for protocol, fold, variant in console.progress(steps, unit="run"):
        out = work.fold(protocol, fold.name)
        shown = protocol == "reference" and variant is SESSRS_VARIANTS[0]  # the sweep whose heatmaps the report shows
        tuned = tune_and_apply(fold, samples, spec, out, settings, variant, heatmaps=shown)
        chosen[variant.key] = tuned["best"]
        maps = refined_matrices(variant_folder(out, variant).refined, fold.evaluate, work, spec)
        per_tile.setdefault(protocol, {}).setdefault(variant.key, {}).update(maps)
        if variant is SESSRS_VARIANTS[-1]:
            results.folds.setdefault(protocol, []).append(fold_summary(fold, chosen, spec))
        if shown:
            results.reference_sweep = tuned["sweep"]
    results.matrices = {
        protocol: {variant: pooled(matrices) for variant, matrices in variants.items()}
        for protocol, variants in per_tile.items()
    }
    return results


def run_set(
    sample: SampleSet, work: Workspace, settings: DemoSettings, objects: ObjectChoice, console: Console
) -> tuple[dict, dict]:
    """The whole pipeline for one sample set; returns its report group and its metrics entry."""
    spec, key = sample.spec, sample.key
    with console.stage(f"{key}-tiles", f"{key}: tiles"):
        windows = prepare_set(sample, settings, work)
        tiles = [w.name for w in windows]
    reused = is_trained(work)
    with console.stage(f"{key}-train", f"{key}: train GeoSeg sample UNetFormer (CPU)" + (", reused" if reused else "")):
        if not reused:
            train(sample, work, settings, console)
    with console.stage(f"{key}-predict", f"{key}: predict"):
        crop_predictions(windows, predict(sample, work, console), work, spec)
    with console.stage(f"{key}-objects", f"{key}: objects ({objects.key})"):
        make_objects(work, objects, console)
    with console.stage(f"{key}-sessrs", f"{key}: SESSRS sweep, pick or search, apply per fold"):
        sessrs = tune_sessrs(tiles, work, spec, settings, console)
    with console.stage(f"{key}-peers", f"{key}: peers (SSA's rule, majority vote, DenseCRF)"):
        fixed = {
            peer: pooled(per_tile)
            for peer, per_tile in evaluate_peers(fixed_peers(spec), console.progress(tiles), work, spec).items()
        }
    with console.stage(f"{key}-panels", f"{key}: tile panels"):
        reference, pick = work.fold("reference", "all"), SESSRS_VARIANTS[0]
        refined = variant_folder(reference, pick).refined
        panels = tile_panels(console.progress(tiles), work, refined, spec, settings.out, key)
        grids = heatmaps(sessrs.reference_sweep, variant_sweep(reference, pick), spec, settings.out)
    matrices = {protocol: {**fixed, **variants} for protocol, variants in sessrs.matrices.items()}
    protocols = protocol_tables(matrices, sessrs.folds, spec)
    metrics = {
        table["key"]: {
            row["peer"]: {**row, "confusion_matrix": matrices[table["key"]][row["peer"]].tolist()}
            for row in table["rows"]
        }
        for table in protocols
    }
    group = set_group(sample, tiles, protocols, grids, panels)
    return group, {"dataset": spec.name, "tiles": tiles, "protocols": metrics}


def run_demo(settings: DemoSettings, terminal: TextIO | None = None) -> Path:
    """Run the demo into ``settings.out``; returns the path of ``report.html``.

    The terminal (default: stderr) shows one line per stage and the progress bars; each stage's own output goes to
    ``OUT/logs/<stage>.log`` unless ``settings.verbose``. The closing summary goes to stdout."""
    settings = replace(settings, out=settings.out.resolve())
    settings.out.mkdir(parents=True, exist_ok=True)
    objects = choose_objects(settings.objects)
    folder = DemoFolder(settings.out)
    with Console(folder.logs, settings.verbose, terminal) as console:
        console.say(f"SESSRS demo -> {settings.out} (each stage's output: {console.logs}/)")
        console.say(f"objects: {objects.description}")
        if objects.missing:
            console.say(objects.missing)
        groups, metrics, reused = [], {}, []
        for key in settings.sets:
            work = folder.workspace(key, objects.key)
            reused.append(is_trained(work))
            group, metrics[key] = run_set(SAMPLE_SETS[key], work, settings, objects, console)
            groups.append(group)
        with console.stage("report", "report"):
            write_json_atomic(folder.metrics, metrics)
            report = {
                "title": REPORT_TITLE,
                "generated_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                **report_top(settings, objects, all(reused)),
                "groups": groups,
            }
            report["timings_s"] = console.timings
            report["wall_time_s"] = round(console.elapsed, 1)
            html_path, _ = write_report(settings.out, report)
    print(
        "\n".join(summary_lines(groups, str(html_path))), file=sys.stdout if terminal is None else terminal, flush=True
    )
    return html_path
