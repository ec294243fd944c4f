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

When --data is a log dataset (a Parquet folder with manifest.json, as scripts/make_log.py
writes), DKT trains from it as a stream of student shards (flat memory; split by student-id
hash: --test-fraction, --valid-fraction), and `torchrun --nproc-per-node N scripts/train_kt.py
--data DIR --distributed` trains it with DDP on N ranks (gloo on CPU, NCCL on GPUs;
--batch-size is the global batch). --resume continues after all ranks were killed.
"""

import argparse
import json
import os

import torch
from tqdm.auto import tqdm

from riley_gym import nets
from riley_gym.kt.data.log_dataset import is_log_dataset
from riley_gym.kt.experiments.runs import (
    add_run_arguments,
    run_settings_from_arguments,
    train_and_report,
)
from riley_gym.kt.experiments.stream_run import train_on_log_dataset
from riley_gym.kt.models.registry import MODELS
from riley_gym.kt.models.streaming import StreamConfig

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
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="log datasets: train with DDP on the ranks torchrun started",
    )
    nets.add_arguments(
        parser.add_argument_group("log datasets (StreamConfig)"),
        StreamConfig,
        skip={"test_fraction", "valid_fraction", "split_seed"},
    )
    return parser


def train_streaming(args, protocol, plan, configs, parser) -> None:
    """--data is a log dataset: stream DKT from it, on one process or the torchrun ranks."""
    if args.model != "dkt":
        parser.error(f"a log dataset trains --model dkt only, got --model {args.model}")
    values = nets.given_arguments(args, StreamConfig, {"test_fraction", "valid_fraction"})
    stream = StreamConfig(
        **values,
        test_fraction=protocol.test_fraction,
        valid_fraction=plan.valid_fraction,
        split_seed=args.seed,
    )
    config = configs["dkt"]
    context = nets.start_process_group(args.distributed, config.device)
    try:
        threads = args.threads or max(nets.free_cores() // context.world_size, 1)
        torch.set_num_threads(threads)
        out = args.out or os.path.join("runs", "kt", f"dkt-stream-seed{args.seed}")
        show = context.is_main and not args.no_progress
        with tqdm(unit="row", desc="train", disable=not show) as bar:
            summary = train_on_log_dataset(
                args.data, out, config, stream, context, resume=args.resume,
                overwrite=args.overwrite, progress=bar.update,
                extra={"threads": threads, "command": vars(args)},
            )  # fmt: skip
    finally:
        context.close()
    if context.is_main:
        keys = ("test_auc", "best_valid_auc", "steps", "interactions_per_second")
        print(json.dumps({key: summary[key] for key in (*keys, "peak_rss_mb_per_rank")}))
        print(f"wrote {out}/summary.json")


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
        parser.error(error.flag_message())
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if is_log_dataset(args.data):
        try:
            return train_streaming(args, protocol, plan, configs, parser)
        except nets.SettingsError as error:
            parser.error(error.flag_message())
    if args.distributed:
        parser.error("--distributed trains from a log dataset: give --data a make_log.py folder")
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
