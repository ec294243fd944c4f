"""Train and score knowledge tracers on a student log: python scripts/train_kt.py --data LOG --model dkt.

Reads the log (interactions CSV/Parquet, three-line, pyKT or matrix format), splits it by
student under --protocol, fits the model(s), scores every test attempt given only earlier
attempts, and writes DIR/summary.json (test_auc, test_acc, test_rmse, seconds_per_epoch, ...,
and the settings), metrics.csv, per_skill.csv, history.csv (DKT), calibration.png and the
saved model. --model all compares every model on the same split (comparison.csv, .png).
DKT checkpoints after every epoch; --resume continues a killed run in --out from its last
finished epoch (given the same flags; the baselines, which fit in seconds, are refit).
--teachers RUN... trains DKT on the mean prediction of models saved by earlier runs on the
same split instead of the 0/1 answers (distillation).
"""

import argparse
import json
import os

import torch

from riley_gym import nets
from riley_gym.kt.experiments.evaluation import PROTOCOLS
from riley_gym.kt.experiments.runs import (
    ResumeError,
    TeacherError,
    add_dkt_arguments,
    dkt_config_from_arguments,
    train_and_report,
)
from riley_gym.kt.models.registry import MODELS


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, help="the log to train on (pyKT protocol: train_valid.csv)"
    )
    parser.add_argument(
        "--format",
        default="auto",
        choices=["auto", "interactions", "three-line", "pykt", "matrix"],
        help="log format (default: detected)",
    )
    parser.add_argument(
        "--model", default="dkt", choices=[*MODELS, "all"], help="model to fit, or all of them"
    )
    parser.add_argument(
        "--protocol", default="holdout", choices=PROTOCOLS, help="evaluation protocol"
    )
    parser.add_argument(
        "--test",
        default=None,
        help="separate test log (pykt protocol; or holdout with a given test set)",
    )
    parser.add_argument("--k", type=int, default=5, help="folds of the kfold protocol")
    parser.add_argument(
        "--test-fraction", type=float, default=0.2, help="test students of the holdout protocol"
    )
    parser.add_argument(
        "--valid-fold", type=int, default=0, help="validation fold of the pykt protocol"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of splits, weights and batch order"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: free cores)"
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default runs/kt/<model>-<protocol>-seed<seed>)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the killed run in --out from its last finished epoch (give the run's flags again; "
        "baselines are refit; same --threads for a bit-identical result)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--teachers",
        nargs="+",
        default=None,
        metavar="RUN",
        help="DKT only: train on the mean p(correct) of the models saved in these train_kt.py run folders "
        "instead of the 0/1 answers (distillation; they must share this run's split)",
    )
    add_dkt_arguments(parser)
    args = parser.parse_args()
    threads = args.threads or nets.free_cores()
    torch.set_num_threads(threads)
    models = list(MODELS) if args.model == "all" else [args.model]
    out = args.out or os.path.join("runs", "kt", f"{args.model}-{args.protocol}-seed{args.seed}")
    try:
        summary = train_and_report(
            models,
            args.data,
            out,
            args.protocol,
            test=args.test,
            data_format=args.format,
            configs={"dkt": dkt_config_from_arguments(args, args.seed)},
            seed=args.seed,
            k=args.k,
            test_fraction=args.test_fraction,
            valid_fold=args.valid_fold,
            progress=not args.no_progress,
            extra={"threads": threads, "command": vars(args)},
            resume=args.resume,
            teachers=args.teachers,
        )
    except (ResumeError, TeacherError) as error:
        parser.error(str(error))
    rows = summary["models"].values() if "models" in summary else [summary]
    for row in rows:
        print(
            json.dumps(
                {
                    key: row.get(key)
                    for key in (
                        "model",
                        "test_auc",
                        "test_acc",
                        "test_rmse",
                        "train_seconds",
                        "seconds_per_epoch",
                        "best_epoch",
                    )
                }
            )
        )
    print(f"wrote {out}/summary.json")


if __name__ == "__main__":
    main()
