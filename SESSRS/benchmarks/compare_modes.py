"""Compare unrefined, per-class pick and joint search, in faithful and improved mode, and the label-free object votes
(Semantic Segment Anything's rule, the majority vote at t = 0.5), held out and in-sample.

Held out: leave one image out; in-sample: tuned on every image (see ``sessrs.compare``). Prints a markdown table
(mIoU and its change under both protocols, OA) and writes the figures with per-class IoU, the pooled confusion
matrices and each fold's thresholds to ``--out``/comparison.json.

Run:  python SESSRS/benchmarks/compare_modes.py                      # the 10 reference fixture scenes
      python SESSRS/benchmarks/compare_modes.py --pred-dir outputs/demo/loveda/pred \\
          --sam-dir outputs/demo/loveda/sam/regions --gt-dir outputs/demo/loveda/gt --dataset Urban
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rscommon.datasets import DATASETS, get_dataset
from rscommon.files import write_json_atomic
from rscommon.parallel import Execution
from sessrs.compare import compare_modes, markdown_table
from sessrs.inputs import pair_inputs

FIXTURE_SCENES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "sessrs_reference" / "scenes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pred-dir", type=Path, default=FIXTURE_SCENES / "pred")
    parser.add_argument("--sam-dir", type=Path, default=FIXTURE_SCENES / "sam")
    parser.add_argument("--gt-dir", type=Path, default=FIXTURE_SCENES / "gt")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="Urban")
    parser.add_argument("--label", default="reference fixture scenes", help="what the images are, for the table")
    parser.add_argument("--out", type=Path, default=Path("outputs/compare_modes"))
    parser.add_argument("-n", "--workers", type=int, default=2)
    args = parser.parse_args()
    spec = get_dataset(args.dataset)
    samples = pair_inputs(args.pred_dir, args.sam_dir, args.gt_dir)
    began = time.perf_counter()
    comparison = {**compare_modes(samples, spec, args.out, execution=Execution(args.workers)), "label": args.label}
    comparison["seconds"] = round(time.perf_counter() - began, 1)
    write_json_atomic(args.out / "comparison.json", comparison)
    print(f"Held out (leave one image out) and in-sample on {len(samples)} {args.label} ({spec.name} classes)\n")
    print(markdown_table(comparison))
    print(
        f"\n(per-class IoU, the confusion matrices and each fold's thresholds in {args.out / 'comparison.json'}; "
        f"{comparison['seconds']:.0f} s)"
    )


if __name__ == "__main__":
    main()
