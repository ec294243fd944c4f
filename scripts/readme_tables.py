"""Write README.md's result tables from the stored runs in docs/results/.

python scripts/readme_tables.py                   # rewrite the marked tables in README.md
python scripts/readme_tables.py --check           # exit 1 if README.md differs from the runs
# store a finished run first (then the tables are rewritten):
python scripts/readme_tables.py --add runs/tutor-bkt --name riley-bkt --role tuning \\
    --command "python scripts/tutor.py --threads 1 --out runs/tutor-bkt"
python scripts/readme_tables.py --add runs/tree-irt-rounds2 --kind rounds --name tree-irt-rounds2 \\
    --role tuning --command "python scripts/tutor.py --threads 1 ... --gain-rounds 2"
python scripts/readme_tables.py --add runs/sakt --kind kt --name sakt-assist2015 \\
    --command "python scripts/train_kt.py --model sakt ..." --evaluation runs/sakt/evaluate-test \\
    --evaluation-command "python scripts/evaluate_kt.py --model runs/sakt --data ... --pykt-windows"

Kinds (one folder each under --results): tutoring (scripts/tutor.py runs: the tutoring-*
tables), rounds (tutor.py runs with --gain-rounds 0 and N on the same settings: gain-rounds*),
kt (single-model scripts/train_kt.py runs, with their evaluate_kt.py --pykt-windows score on
the pyKT protocol: kt, kt-attention and their commands), web (scripts/bench_web.py runs: the
web-latency table, from the latest one).

A table sits between '<!-- table:NAME (written by scripts/readme_tables.py; do not edit) -->'
and '<!-- /table:NAME -->'; edit the runs, not the table.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from riley_gym import nets
from riley_gym.kt.experiments.readme_results import KINDS, render_all, store
from riley_gym.kt.experiments.readme_tables import ROLES, replace_blocks

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readme", default=str(ROOT / "README.md"), help="the file to write")
    parser.add_argument(
        "--results", default=str(ROOT / "docs" / "results"), help="stored runs, a folder per kind"
    )
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    parser.add_argument("--add", metavar="RUN", help="store a finished run's folder first")
    parser.add_argument("--kind", choices=list(KINDS), default="tutoring", help="--add: its kind")
    parser.add_argument("--name", help="--add: the stored run's name (e.g. riley-bkt)")
    parser.add_argument("--role", choices=ROLES, help="--add tutoring, rounds: tuned on it?")
    parser.add_argument("--command", help="--add: the command that made the run")
    parser.add_argument("--evaluation", metavar="DIR", help="--add kt: evaluate_kt.py's folder")
    parser.add_argument("--evaluation-command", help="--add kt: the command that made DIR")
    parser.add_argument("--variant", help="--add kt: words after its figure")
    nets.add_debug_flag(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.add:
        if not (args.name and args.command):
            raise ValueError("--add needs --name and --command")
        path = store(args.results, args.kind, args.add, args.name, args.command, args.role,
                     args.evaluation, args.evaluation_command, args.variant)  # fmt: skip
        print(f"stored {args.add} as {path}")
    readme = Path(args.readme)
    text = readme.read_text()
    blocks, counts = render_all(args.results)
    updated = replace_blocks(text, blocks)
    stored = ", ".join(f"{count} {kind}" for kind, count in counts.items())
    if args.check:
        if updated != text:
            diff = difflib.unified_diff(text.splitlines(), updated.splitlines(), lineterm="")
            print("\n".join(diff))
            print(f"{readme} differs from the runs in {args.results}: run scripts/readme_tables.py",
                  file=sys.stderr)  # fmt: skip
            sys.exit(1)
        print(f"{readme} matches the stored runs ({stored})")
        return
    readme.write_text(updated)
    print(f"wrote {len(blocks)} tables from the stored runs ({stored}) into {readme}")


if __name__ == "__main__":
    nets.run_script(main)
