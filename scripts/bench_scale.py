"""Interactions/s and peak RSS of streaming DKT on 1 and 2 ranks: python scripts/bench_scale.py.

Runs scripts/train_kt.py on --data (a make_log.py folder; the issue's benchmark uses a 10M
log) once as one process and once under torchrun with 2 gloo ranks, the same global batch and
--max-steps, and prints each run's training interactions per second, peak RSS per rank and
the 2-vs-1 ratio; writes them to --out/bench_scale.json. Extra train_kt.py flags go after --.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from riley_gym import nets

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
    return {"ranks": ranks, "threads_per_rank": threads, **{key: summary[key] for key in keys},
            "peak_rss_mb_per_rank": summary["peak_rss_mb_per_rank"],
            "test_auc": summary["test_auc"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="a log dataset (scripts/make_log.py)")
    parser.add_argument("--out", default="runs/bench_scale", help="output folder")
    parser.add_argument("--max-steps", type=int, default=200, help="global batches per run")
    parser.add_argument("--cores", type=int, default=2, help="cores shared by the ranks")
    nets.add_debug_flag(parser)
    args, flags = parser.parse_known_args()
    flags = [flag for flag in flags if flag != "--"]
    out = Path(args.out)
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
