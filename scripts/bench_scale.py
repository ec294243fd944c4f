"""Interactions/s and peak RSS of streaming DKT on 1 and 2 ranks: python scripts/bench_scale.py.

Runs scripts/train_kt.py on --data (a make_log.py folder; the issue's benchmark uses a 10M
log) once as one process and once under torchrun with 2 gloo ranks, the same global batch and
--max-steps, and prints each run's training interactions per second, peak RSS per rank and
the 2-vs-1 ratio; writes them to --out/bench_scale.json. Extra train_kt.py flags go after --.

--curve LOG [LOG ...] instead trains one whole epoch on each log (one process, one thread)
and prints how time per epoch grows with the log: training rows, wall and CPU seconds per
epoch, CPU seconds per million rows (flat when the growth is linear) and peak RSS; writes
--out/bench_scale_curve.json and bench_scale_curve.png. For example, after make_log.py
--n-interactions 1000000, 10000000 and 100000000 into logs/l1m, logs/l10m, logs/l100m:
python scripts/bench_scale.py --curve logs/l1m logs/l10m logs/l100m -- --hidden-size 32
--embedding-size 32 --batch-size 256 --dropout 0 --max-test-students 5000
--max-valid-students 5000
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from riley_gym import nets
from riley_gym.kt.experiments.plots import plot_epoch_scaling

ROOT = Path(__file__).resolve().parents[1]


def run(data: str, out: Path, ranks: int, threads: int, flags: list[str]) -> dict:
    command = [str(ROOT / "scripts" / "train_kt.py"), "--data", data, "--out", str(out)]
    command += ["--overwrite", "--no-progress", "--threads", str(threads), *flags]
    if ranks > 1:
        command = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}",
                   *command, "--distributed"]  # fmt: skip
    result = subprocess.run([sys.executable, *command], capture_output=True, text=True)
    if result.returncode != 0:
        raise ValueError(f"train_kt.py on {ranks} rank(s) failed: {result.stderr[-1500:]}")
    summary = json.loads((out / "summary.json").read_text())
    keys = ("interactions_per_second", "train_interactions", "train_seconds", "steps")
    cpu = float(pd.read_csv(out / "history.csv")["train_cpu_seconds"].sum())  # rank 0's
    return {"ranks": ranks, "threads_per_rank": threads, **{key: summary[key] for key in keys},
            "train_cpu_seconds": cpu, "peak_rss_mb_per_rank": summary["peak_rss_mb_per_rank"],
            "test_auc": summary["test_auc"]}  # fmt: skip


def curve(logs: list[str], out: Path, flags: list[str]) -> None:
    """One whole epoch on each log, one process and thread; the growth of time per epoch."""
    rows = []
    for log in logs:
        manifest = json.loads((Path(log) / "manifest.json").read_text())
        row = run(log, out / Path(log).name, 1, 1, ["--max-epochs", "1", *flags])
        million = row["train_interactions"] / 1e6
        rows.append({"log": log, "log_rows": manifest["n_rows"], **row,
                     "cpu_seconds_per_million_rows": row["train_cpu_seconds"] / million,
                     "wall_seconds_per_million_rows": row["train_seconds"] / million})  # fmt: skip
    print("| log | log rows | training rows | wall s | CPU s | CPU s per 1M rows | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['log']} | {row['log_rows']:,} | {row['train_interactions']:,} | "
              f"{row['train_seconds']:.2f} | {row['train_cpu_seconds']:.2f} | "
              f"{row['cpu_seconds_per_million_rows']:.2f} | "
              f"{max(row['peak_rss_mb_per_rank']):.0f} |")  # fmt: skip
    per_million = [row["cpu_seconds_per_million_rows"] for row in rows]
    spread = {"largest_over_smallest_cpu_seconds_per_million_rows": max(per_million)
              / min(per_million)}  # fmt: skip
    print(json.dumps(spread))
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_scale_curve.json").write_text(json.dumps({"runs": rows, **spread}, indent=2))
    plot_epoch_scaling(rows, out / "bench_scale_curve.png")
    print(f"wrote {out}/bench_scale_curve.json and bench_scale_curve.png")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", help="a log dataset (scripts/make_log.py)")
    parser.add_argument(
        "--curve", nargs="+", metavar="LOG", help="one whole epoch on each log instead"
    )
    parser.add_argument("--out", default="runs/bench_scale", help="output folder")
    parser.add_argument("--max-steps", type=int, default=200, help="global batches per run")
    parser.add_argument("--cores", type=int, default=2, help="cores shared by the ranks")
    nets.add_debug_flag(parser)
    args, flags = parser.parse_known_args()
    flags = [flag for flag in flags if flag != "--"]
    out = Path(args.out)
    if args.curve:
        if args.data:
            parser.error("--curve takes its logs itself: give --data or --curve, not both")
        return curve(args.curve, out, flags)
    if not args.data:
        parser.error("give --data LOG (1 vs 2 ranks) or --curve LOG [LOG ...]")
    flags = ["--max-steps", str(args.max_steps), "--max-epochs", "1", *flags]
    rows = [
        run(args.data, out / "one-rank-all-cores", 1, args.cores, flags),
        run(args.data, out / "one-rank-one-core", 1, 1, flags),
        run(args.data, out / "two-ranks", 2, max(args.cores // 2, 1), flags),
    ]
    for row in rows:
        print(json.dumps(row))
    ratio = {
        "two_ranks_vs_one_rank_all_cores": rows[2]["interactions_per_second"]
        / rows[0]["interactions_per_second"],
        "two_ranks_vs_one_rank_one_core": rows[2]["interactions_per_second"]
        / rows[1]["interactions_per_second"],
    }
    print(json.dumps(ratio))
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_scale.json").write_text(json.dumps({"runs": rows, **ratio}, indent=2) + "\n")


if __name__ == "__main__":
    nets.run_script(main)
