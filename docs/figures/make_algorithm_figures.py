"""Draw the pictures of docs/algorithm.md from a 12 x 12 toy prediction, with sessrs's own functions.

Run from the repository root:

    python docs/figures/make_algorithm_figures.py            # writes docs/figures/*.png
    python docs/figures/make_algorithm_figures.py --out DIR  # somewhere else

Every number and every coloured pixel in the pictures comes from the refinement code of this checkout
(``sessrs.prepared``, ``sessrs.steps``, ``sessrs.refine``), so the pictures show what the code does. The script
also prints the figures the document quotes (instance sizes, object shares, the replacement, the results).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for folder in ("common", "SESSRS"):  # this checkout's packages first, whatever is installed
    sys.path.insert(0, str(ROOT / folder))

import numpy as np  # noqa: E402 - after the sys.path lines above

URBAN_CLASSES = 8
BUILDING, ROAD = 1, 2
T1, T2 = 0.5, 0.55


def toy_prediction() -> np.ndarray:
    """The model's prediction: a road on the right, a building predicted as a bleeding upper part, a separate
    lower fragment and one stray pixel."""
    pred = np.zeros((12, 12), np.uint8)
    pred[:, 9:] = ROAD
    pred[2:5, 1:10] = BUILDING  # the upper part, bleeding two columns past the roof onto the road's edge
    pred[6:9, 2:7] = BUILDING  # a fragment of the lower part, cut off by a gap at row 5
    pred[10, 1] = BUILDING  # a stray pixel
    return pred


def toy_masks() -> np.ndarray:
    """Two objects a segment-anything model could give: the whole roof, and the road."""
    masks = np.zeros((12, 12, 2), bool)
    masks[2:9, 1:8, 0] = True  # object 0: the roof
    masks[:, 9:, 1] = True  # object 1: the road
    return masks


def walk_through() -> dict:
    """Run the steps one by one on the toy and return what each produced."""
    import sessrs
    from sessrs.fill import fill_class
    from sessrs.prepared import prepare_image
    from sessrs.steps import assign_classes, claiming_t1, refine_class, resolve_object_overlaps, thresholds

    pred, masks = toy_prediction(), toy_masks()
    objects = sessrs.objects_from_masks(masks)
    prepared = prepare_image(pred, objects, URBAN_CLASSES)  # step 1: instances
    t1, t2 = thresholds({BUILDING: T1}, URBAN_CLASSES), thresholds({BUILDING: T2}, URBAN_CLASSES)
    modify = [BUILDING]
    state = assign_classes(prepared, claiming_t1(t1, modify))  # step 2
    resolve_object_overlaps(prepared, state, t2, modify)  # step 3 (nothing to do: one class takes objects)
    refinement = refine_class(prepared, state, BUILDING, T1, T2, max_objects=sessrs.APPLY_MAX_OBJECTS)  # step 4
    chosen = sessrs.Thresholds(t1={BUILDING: T1}, t2={BUILDING: T2}, modify=modify)
    refined = sessrs.refine(pred, objects, chosen, num_classes=URBAN_CLASSES)  # steps 1 to 6
    neighbourhood = sessrs.refine(
        pred, objects, chosen, num_classes=URBAN_CLASSES, options=sessrs.RefineOptions(fill_from_neighbourhood=True)
    )
    instance_map = prepared.inst_map
    return {
        "pred": pred,
        "masks": masks,
        "instances": instance_map,
        "instance_class": prepared.inst_class,
        "instance_size": prepared.inst_size,
        "object_class": state.cls,
        "object_share": state.ratio,
        "object_area": state.area,
        "replaced": [(r.instance, r.objects) for r in refinement.replaced],
        "filled": fill_class(pred, BUILDING),
        "filled_neighbourhood": fill_class(pred, BUILDING, True),
        "refined": refined,
        "refined_neighbourhood": neighbourhood,
    }


def palette() -> np.ndarray:
    from rscommon.datasets import get_dataset

    return np.array(get_dataset("Urban").palette, float) / 255


def draw_classes(ax, labels: np.ndarray, title: str) -> None:
    ax.imshow(palette()[labels], interpolation="nearest")
    grid(ax, labels.shape, title)


def grid(ax, shape: tuple[int, int], title: str) -> None:
    ax.set_xticks(np.arange(-0.5, shape[1], 1), minor=True)
    ax.set_yticks(np.arange(-0.5, shape[0], 1), minor=True)
    ax.grid(which="minor", color="0.75", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_title(title, fontsize=9)


def outline(ax, mask: np.ndarray, colour: str, width: float = 2.0, style: str = "-") -> None:
    """Draw the outer edges of ``mask``'s pixels."""
    height, width_px = mask.shape
    padded = np.pad(mask, 1)
    for row in range(height):
        for col in range(width_px):
            if not mask[row, col]:
                continue
            r, c = row + 1, col + 1
            if not padded[r - 1, c]:
                ax.plot([col - 0.5, col + 0.5], [row - 0.5, row - 0.5], style, color=colour, lw=width)
            if not padded[r + 1, c]:
                ax.plot([col - 0.5, col + 0.5], [row + 0.5, row + 0.5], style, color=colour, lw=width)
            if not padded[r, c - 1]:
                ax.plot([col - 0.5, col - 0.5], [row - 0.5, row + 0.5], style, color=colour, lw=width)
            if not padded[r, c + 1]:
                ax.plot([col + 0.5, col + 0.5], [row - 0.5, row + 0.5], style, color=colour, lw=width)


def label_at(ax, mask: np.ndarray, text: str, colour: str = "black") -> None:
    rows, cols = np.nonzero(mask)
    order = np.lexsort((cols, rows))
    row, col = rows[order[len(order) // 2]], cols[order[len(order) // 2]]
    ax.text(
        col,
        row,
        text,
        ha="center",
        va="center",
        fontsize=8,
        color=colour,
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colour, "lw": 0.8},
    )


def draw(result: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from rscommon.datasets import get_dataset

    spec = get_dataset("Urban")
    pred, instances = result["pred"], result["instances"]
    written = []

    # 1. The walk-through: prediction, instances, objects, replacement, fill, result.
    figure, axes = plt.subplots(2, 3, figsize=(10.5, 8.0))
    draw_classes(axes[0, 0], pred, "prediction P (classes)")

    grid(axes[0, 1], pred.shape, "step 1: instances (8-connected, per class)")
    axes[0, 1].imshow(palette()[pred], interpolation="nearest", alpha=0.35)
    for number in range(len(result["instance_class"])):
        mask = instances == number
        outline(axes[0, 1], mask, "black", 1.5)
        name = spec.classes[result["instance_class"][number]]
        label_at(axes[0, 1], mask, f"p{number}\n{name}\n{result['instance_size'][number]} px")

    draw_classes(axes[0, 2], pred, "step 2: objects and the class each takes")
    colours = ["tab:blue", "tab:purple"]
    for number in range(result["masks"].shape[2]):
        mask = result["masks"][..., number]
        outline(axes[0, 2], mask, colours[number], 2.5, "--")
        cls = result["object_class"][number]
        taken = spec.classes[cls] if cls >= 0 else "no class"
        label_at(axes[0, 2], mask, f"s{number}: {taken}\nshare {result['object_share'][number]:.3f}", colours[number])

    grid(axes[1, 0], pred.shape, "step 4: which object replaces which instance")
    axes[1, 0].imshow(palette()[pred], interpolation="nearest", alpha=0.35)
    replaced = dict(result["replaced"])
    for number in np.flatnonzero(result["instance_class"] == BUILDING):
        mask = instances == number
        if number in replaced:
            outline(axes[1, 0], mask, "black", 1.5)
            union = np.zeros_like(mask)
            for obj in replaced[number]:
                union |= result["masks"][..., obj]
            outline(axes[1, 0], union, colours[replaced[number][0]], 2.5, "--")
            label_at(axes[1, 0], mask, f"p{number} -> s{', s'.join(map(str, replaced[number]))}")
        else:
            outline(axes[1, 0], mask, "0.3", 1.5)
            label_at(axes[1, 0], mask, f"p{number} kept", "0.3")

    draw_classes(axes[1, 1], result["filled"], "step 6.3: F, building filled from its box")
    draw_classes(axes[1, 2], result["refined"], "step 6: the refined map")
    changed = result["refined"] != pred
    for row, col in zip(*np.nonzero(changed)):
        axes[1, 2].plot(col, row, "k.", markersize=4)

    handles = [Patch(facecolor=palette()[c], edgecolor="0.5", label=spec.classes[c]) for c in (0, BUILDING, ROAD)]
    handles.append(plt.Line2D([], [], color="k", marker=".", lw=0, label="pixel changed"))
    figure.legend(handles=handles, loc="lower center", ncol=4, frameon=False, fontsize=9)
    figure.suptitle(f"SESSRS on a 12 x 12 toy: modify = [building], t1 = {T1}, t2 = {T2} (faithful mode)", fontsize=11)
    figure.tight_layout(rect=(0, 0.05, 1, 0.96), h_pad=2.0)
    path = out / "algorithm_steps.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    written.append(path)

    # 2. Quirk 5: the fill's window, bounding box (reference) against the 8-neighbourhood.
    figure, axes = plt.subplots(1, 4, figsize=(12, 3.6))
    draw_classes(axes[0], pred, "prediction P")
    draw_classes(axes[1], result["refined"], "refined, faithful (F from the box)")
    draw_classes(axes[2], result["refined_neighbourhood"], "refined, fill_from_neighbourhood=True")
    differs = result["refined"] != result["refined_neighbourhood"]
    grid(axes[3], pred.shape, "pixels that differ")
    axes[3].imshow(np.where(differs, 0.0, 1.0), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    figure.suptitle(
        "quirk 5: a region that fills its bounding box finds no neighbour to take a class from", fontsize=10
    )
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    path = out / "quirk_fill_window.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    written.append(path)
    return written


def describe(result: dict) -> str:
    lines = ["instances (number: class, pixels):"]
    for number, (cls, size) in enumerate(zip(result["instance_class"], result["instance_size"])):
        lines.append(f"  p{number}: class {cls}, {size} px")
    lines.append("objects (number: class after step 2, share, pixels):")
    for number, (cls, share, area) in enumerate(
        zip(result["object_class"], result["object_share"], result["object_area"])
    ):
        lines.append(f"  s{number}: class {cls}, share {share:.3f}, {area} px")
    lines.append(f"replaced (instance, objects): {result['replaced']}")
    changed = np.argwhere(result["refined"] != result["pred"])
    lines.append(f"pixels changed by the refinement (row, col): {[tuple(map(int, p)) for p in changed]}")
    fixed = np.argwhere(result["refined_neighbourhood"] != result["refined"])
    lines.append(f"pixels fill_from_neighbourhood changes (row, col): {[tuple(map(int, p)) for p in fixed]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent, help="folder for the PNGs (default: docs/figures)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = walk_through()
    print(describe(result))
    for path in draw(result, args.out):
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
