"""Train and score knowledge tracers on a log: python scripts/train_kt.py --data LOG --model dkt.

Reads the log (interactions CSV/Parquet, three-line, pyKT or matrix format), splits it by
student under --protocol, fits the model(s), scores every test attempt given only earlier
attempts, and writes DIR/summary.json (test_auc, test_acc, test_rmse, seconds_per_epoch, ...,
and the settings), metrics.csv, per_skill.csv, history.csv (DKT), calibration.png and the
saved model. --model all compares every model on the same split (comparison.csv, .png).
DKT checkpoints after every epoch; --resume continues a killed run in --out from its last
finished epoch (given the same flags; the baselines, which fit in seconds, are refit).
--teachers RUN... trains DKT on the mean prediction of models saved by earlier runs on the
same split instead of the 0/1 answers (distillation). The settings flags listed are those of
the model chosen: `--model bkt --help` lists BKT's.
"""

import argparse
import json
import os

import torch

from riley_gym import nets
from riley_gym.kt.experiments.runs import (
    add_run_arguments,
    run_settings_from_arguments,
    train_and_report,
)
from riley_gym.kt.models.registry import MODELS

FORMATS = ["auto", "interactions", "three-line", "pykt", "matrix"]


def parser_for(models: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="the log (pyKT protocol: train_valid.csv)")
    parser.add_argument("--format", default="auto", choices=FORMATS, help="log format")
    parser.add_argument("--model", default="dkt", choices=[*MODELS, "all"], help="model(s) to fit")
    parser.add_argument("--test", default=None, help="separate test log (pykt, or holdout)")
    parser.add_argument("--seed", type=int, default=0, help="seed of splits, weights, batches")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: free)")
    parser.add_argument("--out", default=None, help="output folder (default runs/kt/<model>-...)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the killed run in --out from its last finished epoch (give the run's "
        "flags again; baselines are refit; same --threads for a bit-identical result)",
    )
    parser.add_argument("--overwrite", action="store_true", help="delete what --out holds first")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    nets.add_debug_flag(parser)
    parser.add_argument(
        "--teachers",
        nargs="+",
        default=None,
        metavar="RUN",
        help="DKT only: train on the mean p(correct) of the models saved in these train_kt.py "
        "run folders instead of the 0/1 answers (distillation; they must share this split)",
    )
    add_run_arguments(parser, models)
    return parser


def main() -> None:
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--model", default="dkt", choices=[*MODELS, "all"])
    chosen, _ = first.parse_known_args()
    models = list(MODELS) if chosen.model == "all" else [chosen.model]
    parser = parser_for(models)
    args = parser.parse_args()
    try:
        protocol, plan, configs = run_settings_from_arguments(args, models, args.seed)
    except nets.SettingsError as error:
        parser.error(f"{nets.flag_of(error.field)} must be {error.allowed}, got {error.value!r}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    threads = args.threads or nets.free_cores()
    torch.set_num_threads(threads)
    out = args.out or os.path.join(
        "runs", "kt", f"{args.model}-{protocol.protocol}-seed{args.seed}"
    )
    summary = train_and_report(
        models, args.data, out, protocol, test=args.test, data_format=args.format,
        configs=configs, plan=plan, progress=not args.no_progress,
        extra={"threads": threads, "command": vars(args)}, resume=args.resume,
        teachers=args.teachers, overwrite=args.overwrite,
    )  # fmt: skip
    rows = summary["models"].values() if "models" in summary else [summary]
    keys = ("model", "test_auc", "test_acc", "test_rmse", "train_seconds", "seconds_per_epoch")
    for row in rows:
        print(json.dumps({key: row.get(key) for key in (*keys, "best_epoch")}))
    print(f"wrote {out}/summary.json")


if __name__ == "__main__":
    nets.run_script(main)
