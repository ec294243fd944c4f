"""Environment throughput: simulated students (1, 64, 4096 at once) and Atari (single vs vector).

Usage:
    python scripts/bench_envs.py --only student --out runs/bench_envs
    python scripts/bench_envs.py --only all --atari-steps 5000

Writes OUT/summary.json (figures, settings, load average) and prints a table. The student
figures are single-threaded (BLAS/OpenMP threads are set to 1 unless already set).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # before numpy loads: one core, as the issue asks

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from riley_gym.envs.benchmarks_student import single_throughput, vector_throughput  # noqa: E402

TARGET_4096 = 1_000_000  # issue 2: student-steps/s at 4096 students on one core


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", choices=["student", "atari", "all"], default="all", help="which benchmarks to run"
    )
    parser.add_argument("--out", default="runs/bench_envs", help="output directory (summary.json)")
    parser.add_argument("--seed", type=int, default=0, help="seed of envs and random actions")
    parser.add_argument(
        "--num-envs", type=int, nargs="+", default=[1, 64, 4096], help="student batch sizes"
    )
    parser.add_argument("--dynamics", nargs="+", default=["bkt", "irt"], choices=["bkt", "irt"])
    parser.add_argument(
        "--flatten", action="store_true", help="flat float32 observations instead of dicts"
    )
    parser.add_argument(
        "--min-seconds", type=float, default=1.0, help="duration of each timed repeat"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed repeats per setting (best reported)"
    )
    parser.add_argument(
        "--atari-game", default="Breakout", help="Atari game for the single vs vector comparison"
    )
    parser.add_argument(
        "--atari-steps", type=int, default=2000, help="agent steps per Atari measurement"
    )
    parser.add_argument(
        "--atari-num-envs", type=int, default=8, help="sub-environments of the Atari vector env"
    )
    parser.add_argument(
        "--atari-threads",
        type=int,
        default=0,
        help="C++ threads of the Atari vector env (0: ale-py's choice)",
    )
    return parser.parse_args(argv)


def run_student(args) -> dict:
    settings = [(d, n) for d in args.dynamics for n in args.num_envs]
    rows = []
    for dynamics, num_envs in tqdm(settings, desc="student envs"):
        rows.append(
            vector_throughput(
                num_envs, dynamics, args.flatten, args.min_seconds, args.repeats, args.seed
            )
            | {"load_average": os.getloadavg()}
        )
    singles = [
        single_throughput(d, args.min_seconds, args.repeats, args.seed) for d in args.dynamics
    ]
    print(f"{'dynamics':<8} {'students':>8} {'student-steps/s':>16}")
    for row in rows:
        print(f"{row['dynamics']:<8} {row['num_envs']:>8} {row['steps_per_second']:>16,.0f}")
    for single in singles:
        print(
            f"{single['dynamics']:<8} {'single':>8} {single['steps_per_second']:>16,.0f}  "
            "(gym.Env StudentEnv)"
        )
    at_4096 = [row["steps_per_second"] for row in rows if row["num_envs"] == 4096]
    return {
        "vector": rows,
        "single_env": singles,
        "target_4096_steps_per_second": TARGET_4096,
        "meets_target_4096": bool(at_4096) and min(at_4096) >= TARGET_4096,
    }


def run_atari(args) -> dict:
    from riley_gym.envs.benchmarks_atari import (
        atari_throughput,
    )  # imported here: student-only runs skip ale-py

    result = atari_throughput(
        game=args.atari_game,
        steps=args.atari_steps,
        num_envs=args.atari_num_envs,
        num_threads=args.atari_threads,
        seed=args.seed,
        progress=True,
    )
    print(
        f"atari {args.atari_game}: single {result['single_steps_per_second']:,.0f} agent-steps/s, "
        f"vector ({args.atari_num_envs} envs) "
        f"{result['vector_steps_per_second']:,.0f} agent-steps/s"
    )
    return result | {"load_average": os.getloadavg()}


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "settings": vars(args),
        "load_average_start": os.getloadavg(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if args.only in ("student", "all"):
        summary["student"] = run_student(args)
    if args.only in ("atari", "all"):
        summary["atari"] = run_atari(args)
    summary["load_average_end"] = os.getloadavg()
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out / 'summary.json'}")
    return summary


if __name__ == "__main__":
    main()
