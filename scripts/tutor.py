"""Which exercise next for Riley? Compare tutoring policies on simulated students and real logs.

python scripts/tutor.py                       # default run: Riley, bkt dynamics, all policies
python scripts/tutor.py --dynamics irt --curriculum chain
python scripts/tutor.py --logs ../shared/data/assist2009_builder/builder_train.csv --top-skills 8
python scripts/tutor.py --interactive         # you play the student (y/n on stdin)
python scripts/tutor.py --curricula riley,chain --seeds 0,1,2 --ray   # the grid on a local Ray
python scripts/tutor.py --curricula riley --seeds 0,1 --ray auto    # ... on a running cluster
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from riley_gym import nets
from riley_gym.kt.experiments.calibrate import run_on_logs
from riley_gym.kt.experiments.tutor_grid import grid_table, grid_tasks, run_grid
from riley_gym.kt.experiments.tutor_pipeline import (
    INTERACTIVE_POLICIES,
    TutorConfig,
    interactive_recommender,
    run_tutor,
)
from riley_gym.kt.experiments.tutor_report import format_report
from riley_gym.kt.tutoring.simulation import interactive_session


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    nets.add_arguments(parser.add_argument_group("settings (TutorConfig)"), TutorConfig)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: free)")
    parser.add_argument("--quick", action="store_true", help="tiny preset for tests")
    parser.add_argument("--out", default=None, help="output folder (default runs/tutor/<time>)")
    parser.add_argument("--overwrite", action="store_true", help="delete what --out holds first")
    parser.add_argument("--logs", default=None, help="a log: calibrate the simulator to it")
    parser.add_argument("--format", default="auto", help="log format for --logs")
    parser.add_argument("--top-skills", type=int, default=8, help="--logs: the N most-practised")
    parser.add_argument("--interactive", action="store_true", help="play the student: y/n on stdin")
    parser.add_argument(
        "--interactive-policy",
        default="mastery",
        help="the policy that tutors you",
        choices=INTERACTIVE_POLICIES,
    )
    grid = parser.add_argument_group("grid: policy x curriculum x seed (kt/experiments/tutor_grid)")
    grid.add_argument("--curricula", default=None, help="comma-separated curricula of the grid")
    grid.add_argument("--seeds", default=None, help="comma-separated seeds of the grid")
    grid.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run the grid's cells as Ray tasks: a local Ray (no ADDRESS) or a cluster's address",
    )
    grid.add_argument("--ray-cpus", type=int, default=None, help="CPUs of a local Ray")
    nets.add_debug_flag(parser)
    return parser.parse_args()  # fmt: skip


def run_grid_command(args: argparse.Namespace, config: TutorConfig, out: Path) -> None:
    """The policy x curriculum x seed grid: one run_tutor per (curriculum, seed) cell."""
    curricula = args.curricula.split(",") if args.curricula else [config.curriculum]
    seeds = [int(seed) for seed in args.seeds.split(",")] if args.seeds else [config.seed]
    tasks = grid_tasks(config.to_dict(), curricula, seeds, out, threads=torch.get_num_threads())
    cells = run_grid(tasks, ray_address=args.ray, num_cpus=args.ray_cpus)
    table = grid_table(cells)
    record = {"mode": "grid", "ray": args.ray, "settings": config.to_dict(), "cells": cells}
    (out / "summary.json").write_text(json.dumps(record, indent=2))
    (out / "grid.md").write_text(table + "\n")
    print(table)
    print(f"wrote {out}")


def main() -> None:
    args = parse_args()
    given = nets.given_arguments(args, TutorConfig)
    try:
        config = TutorConfig.quick(**given) if args.quick else TutorConfig(**given)
    except nets.SettingsError as error:
        raise ValueError(error.flag_message())
    if args.top_skills < 1 or (args.threads is not None and args.threads < 1):
        raise ValueError(
            f"--top-skills and --threads must be >= 1, got {args.top_skills}, {args.threads}"
        )
    torch.set_num_threads(args.threads or nets.free_cores())
    out = Path(args.out or f"runs/tutor/{time.strftime('%Y%m%d-%H%M%S')}")
    nets.claim_run_folder(out, resume=False, overwrite=args.overwrite, run_files=("summary.json",))
    if args.ray or args.curricula or args.seeds:
        if args.logs or args.interactive:
            raise ValueError("--ray, --curricula and --seeds go without --logs and --interactive")
        run_grid_command(args, config, out)
        return
    if args.interactive:
        print(
            f"training the {args.interactive_policy} tutor on {config.log_students} simulated "
            f"students of {config.curriculum!r} first (about 15 s to 2 min on 2 cores)..."
        )
        recommender = interactive_recommender(config, args.interactive_policy)
        answers = interactive_session(
            recommender, sys.stdin, sys.stdout, max_steps=config.session_length, seed=config.seed
        )
        record = {
            "mode": "interactive",
            "answers": answers,
            "policy": args.interactive_policy,
            "settings": config.to_dict(),
        }
        (out / "summary.json").write_text(json.dumps(record, indent=2))
        return
    with tqdm(total=len(config.policies) + 3, desc="tutor") as bar:
        if args.logs:
            result = run_on_logs(args.logs, args.format, args.top_skills, config, out, progress=bar)
        else:
            result = run_tutor(config, out, progress=bar)
    print(format_report(result, config, calibrated=bool(args.logs)))
    print(f"wrote {out}")  # fmt: skip


if __name__ == "__main__":
    nets.run_script(main)
