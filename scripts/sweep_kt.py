"""Sweep a knowledge tracer's settings with Ray Tune and ASHA on validation AUC.

python scripts/sweep_kt.py --space FILE --data LOG [--test LOG] [--out DIR]

Each trial is a train_kt.py run with settings sampled from the search space file (its
start_from points first; format in kt/experiments/search_space.py, example in
docs/sweeps/dkt-assist2015.json), trained on one CPU with the sweep's seed. ASHA stops the
trials whose validation AUC trails at its rungs (--grace-period epochs, then every
--reduction-factor times more); the best trial is chosen by validation AUC alone, and the
trials that finish are also scored on the test log. A killed sweep continues with --resume
(each unfinished trial from its last finished epoch).

Writes OUT/summary.json (every trial, and the best one with the train_kt.py command that
reruns it), trials.csv, sweep.md (the table), sweep.png (validation AUC by epoch), trials/
(one train_kt.py run folder per trial) and tune/ (Ray Tune's state). Needs the distributed
extra: pip install -e '.[distributed]'.

Examples:
python scripts/sweep_kt.py --space docs/sweeps/dkt-assist2015.json \\
    --data ../shared/data/assist2015_pykt/train_valid.csv \\
    --test ../shared/data/assist2015_pykt/test.csv --pykt-windows --out runs/sweeps/dkt-a15
python scripts/sweep_kt.py ... --out runs/sweeps/dkt-a15 --resume   # after a kill
python scripts/sweep_kt.py ... --ray auto                          # on a running Ray cluster
"""

from __future__ import annotations

import argparse
import json
import os

from riley_gym import nets
from riley_gym.kt.experiments.search_space import load_search_space
from riley_gym.kt.experiments.sweep import SweepSettings, run_sweep, sweep_table

FORMATS = ["auto", "interactions", "three-line", "pykt", "matrix"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--space", required=True, help="search space JSON file")
    parser.add_argument("--data", required=True, help="the log (pyKT protocol: train_valid.csv)")
    parser.add_argument("--test", default=None, help="separate test log (pykt, or holdout)")
    parser.add_argument("--format", default="auto", choices=FORMATS, help="log format")
    parser.add_argument("--out", default=None, help="sweep folder (default runs/sweeps/<space>)")
    parser.add_argument("--resume", action="store_true", help="continue the killed sweep in --out")
    parser.add_argument("--overwrite", action="store_true", help="delete what --out holds first")
    parser.add_argument(
        "--pykt-windows",
        action="store_true",
        help="also score the best trial and the start points on --test as pyKT does",
    )
    parser.add_argument(
        "--ray",
        default="local",
        metavar="ADDRESS",
        help="'local' (default) starts a Ray here; otherwise a running cluster's address",
    )
    parser.add_argument("--ray-cpus", type=int, default=None, help="CPUs of a local Ray")
    nets.add_arguments(parser.add_argument_group("sweep (SweepSettings)"), SweepSettings)
    nets.add_debug_flag(parser)
    args = parser.parse_args()
    if args.ray_cpus is not None and args.ray_cpus < 1:
        parser.error(f"--ray-cpus must be >= 1, got {args.ray_cpus}")
    if args.pykt_windows and not args.test:
        parser.error("--pykt-windows scores on the test log: give --test")
    return args


def main() -> None:
    args = parse_args()
    try:
        settings = SweepSettings(**nets.given_arguments(args, SweepSettings))
    except nets.SettingsError as error:
        raise ValueError(error.flag_message()) from None
    space = load_search_space(args.space)
    stem = os.path.splitext(os.path.basename(args.space))[0]
    out = args.out or os.path.join("runs", "sweeps", stem)
    summary = run_sweep(
        space, args.data, out, settings, test=args.test, data_format=args.format,
        ray_address=args.ray, num_cpus=args.ray_cpus, resume=args.resume,
        overwrite=args.overwrite, pykt_windows=args.pykt_windows,
    )  # fmt: skip
    print(sweep_table(summary["trials"], list(space.search)))
    if summary["best"] is None:
        print("no trial finished: see the errors in trials.csv")
    else:
        print(json.dumps({key: summary["best"][key] for key in ("trial", "best_valid_auc")}))
        print(f"rerun the best: {summary['best']['command']}")
    print(f"wrote {out}/summary.json, sweep.md, sweep.png")


if __name__ == "__main__":
    nets.run_script(main)
