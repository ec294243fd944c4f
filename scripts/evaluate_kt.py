"""Score a saved knowledge tracer on another log: scripts/evaluate_kt.py --model RUN_DIR --data LOG.

RUN_DIR is a single-model folder written by scripts/train_kt.py (summary.json and model/).
Every attempt of every student in LOG is scored given only that student's earlier
attempts. Writes DIR/summary.json (test_auc, test_acc, test_rmse, test_log_loss, ...),
metrics.csv, per_skill.csv and calibration.png.
"""

import argparse
import json
import os

import torch

from riley_gym import nets
from riley_gym.kt.experiments.runs import evaluate_saved


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model",
        required=True,
        help="run folder of scripts/train_kt.py holding summary.json and model/",
    )
    parser.add_argument("--data", required=True, help="the log to score")
    parser.add_argument(
        "--format",
        default="auto",
        choices=["auto", "interactions", "three-line", "pykt", "matrix"],
        help="log format (default: detected)",
    )
    parser.add_argument(
        "--pykt-windows",
        action="store_true",
        help="score as pyKT does: students cut into windows of 200 scored from an empty state, "
        "no window's first row (the convention of pyKT's published AUCs; default: every "
        "attempt with its whole history)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="unused by scoring (deterministic); recorded for the record",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: free cores)"
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default RUN_DIR/evaluate-<log name>)"
    )
    nets.add_debug_flag(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads or nets.free_cores())
    out = args.out or os.path.join(
        args.model, "evaluate-" + os.path.splitext(os.path.basename(args.data))[0]
    )
    summary = evaluate_saved(
        args.model, args.data, out, data_format=args.format, pykt_windows=args.pykt_windows
    )
    print(
        json.dumps(
            {
                key: summary[key]
                for key in (
                    "model",
                    "scoring",
                    "test_auc",
                    "test_acc",
                    "test_rmse",
                    "test_n",
                    "predict_seconds",
                )
            }
        )
    )
    print(f"wrote {out}/summary.json")


if __name__ == "__main__":
    nets.run_script(main)
