"""The yardsticks for DKT on the synthetic logs: synthetic_oracle.py --data naive_c5_..._v0.csv.

Scores, under the DKT paper's split (first half of the students to fit, second half to test), the
Bayes predictor of the item-response model that generated these logs (kt/experiments/irt_oracle.py):

  --structure given    knows every exercise's hidden concept and difficulty from the matching
                       ``_info.txt``; its three population parameters (guess rate, ability spread,
                       practice gain) are fitted by likelihood on the first half. What a model of
                       these logs can be expected to reach at best.
  --structure learned  learns everything from the first half's answers alone: concepts by
                       clustering the exercises' answer correlations (their number chosen by
                       held-out likelihood unless --concepts is given), difficulties and population
                       parameters by marginal likelihood. What the training data allow a model that
                       assumes this structure; when the info file is there, the summary says how
                       well the concepts and difficulties were recovered.

Every attempt is scored, as train_kt.py scores DKT. Writes DIR/summary.json.

  --compare RUN...     also scores models that train_kt.py trained on this log (their run folders)
                       on both halves (the first half holds the students they trained on, and
                       their validation hold-out unless they were refitted) and breaks each
                       one's log-loss minus the predictor's down by concept depth (earlier
                       answers on the same concept): summary.json's "compare" and
                       DIR/loss_by_depth.png. Below the predictor on the training half and above it
                       on the test half is overfitting.
"""

import argparse
import json

from riley_gym import nets
from riley_gym.kt.experiments.synthetic_yardstick import run_yardstick


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, help="a response matrix (naive_c5_q50_s4000_vN.csv)"
    )
    parser.add_argument(
        "--structure",
        choices=("given", "learned"),
        default="given",
        help="read the concepts and difficulties from --info, or learn them",
    )
    parser.add_argument(
        "--info", default=None, help="exercise file (default: data path + _info.txt)"
    )
    parser.add_argument(
        "--concepts",
        type=int,
        default=None,
        help="learned structure: number of concepts (default: chosen)",
    )
    parser.add_argument(
        "--max-concepts", type=int, default=10, help="learned structure: most concepts tried"
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        default=[],
        metavar="RUN",
        help="train_kt.py run folders compared with the predictor by concept depth",
    )
    parser.add_argument("--out", default=None, help="output folder (default runs/oracle-...)")
    nets.add_debug_flag(parser)
    args = parser.parse_args()  # fmt: skip
    summary = run_yardstick(args.data, args.out, args.structure, args.info, args.concepts,
                            args.max_concepts, args.compare)  # fmt: skip
    hidden = ("concept", "difficulty", "compare")
    print(json.dumps({key: value for key, value in summary.items() if key not in hidden}, indent=1))
    for run, entry in summary.get("compare", {}).items():
        train = entry["train_log_loss"] - entry["train_reference_log_loss"]
        test = entry["test_log_loss"] - entry["test_reference_log_loss"]
        print(f"{run}: log-loss minus the predictor's {train:+.4f} on the training half, "
              f"{test:+.4f} on the test half (test AUC {entry['test_auc']:.4f}); by concept depth "
              f"on the test half: {entry['test_gap_by_depth']}")  # fmt: skip


if __name__ == "__main__":
    nets.run_script(main)
