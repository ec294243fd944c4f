"""Write README.md's result tables from the stored runs in docs/results/tutoring/.

python scripts/readme_tables.py                   # rewrite the marked tables in README.md
python scripts/readme_tables.py --check           # exit 1 if README.md differs from the runs
python scripts/readme_tables.py --add runs/tutor-bkt --name riley-bkt --role tuning \\
    --command "python scripts/tutor.py --threads 1 --out runs/tutor-bkt"

A table sits between '<!-- table:NAME (written by scripts/readme_tables.py; do not edit) -->'
and '<!-- /table:NAME -->'; edit the runs, not the table.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import time
from pathlib import Path

from riley_gym import nets
from riley_gym.kt.experiments.readme_tables import (
    ROLES,
    load_runs,
    render_blocks,
    replace_blocks,
    stored_run,
)

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readme", default=str(ROOT / "README.md"), help="the file to write")
    parser.add_argument(
        "--results", default=str(ROOT / "docs" / "results" / "tutoring"), help="stored runs"
    )
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    parser.add_argument("--add", metavar="RUN", help="store a finished tutor.py run first")
    parser.add_argument("--name", help="--add: the stored run's name (e.g. riley-bkt)")
    parser.add_argument("--role", choices=ROLES, help="--add: were settings chosen on it?")
    parser.add_argument("--command", help="--add: the command that made the run")
    nets.add_debug_flag(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    results = Path(args.results)
    if args.add:
        if not (args.name and args.role and args.command):
            raise ValueError("--add needs --name, --role and --command")
        summary_path = Path(args.add) / "summary.json"
        if not summary_path.is_file():
            raise ValueError(f"--add {args.add}: no summary.json there (is it a tutor.py run?)")
        stored = stored_run(
            json.loads(summary_path.read_text()), args.command, args.role, time.strftime("%Y-%m-%d")
        )
        results.mkdir(parents=True, exist_ok=True)
        (results / f"{args.name}.json").write_text(json.dumps(stored, indent=1) + "\n")
        print(f"stored {summary_path} as {results / f'{args.name}.json'}")
    runs = load_runs(results)
    if not runs:
        raise ValueError(f"no stored runs in {results}")
    readme = Path(args.readme)
    text = readme.read_text()
    blocks = render_blocks(runs)
    updated = replace_blocks(text, blocks)
    if args.check:
        if updated != text:
            diff = difflib.unified_diff(text.splitlines(), updated.splitlines(), lineterm="")
            print("\n".join(diff))
            print(f"{readme} differs from the runs in {results}: run scripts/readme_tables.py",
                  file=sys.stderr)  # fmt: skip
            sys.exit(1)
        print(f"{readme} matches the {len(runs)} stored runs")
        return
    readme.write_text(updated)
    print(f"wrote {len(blocks)} tables from {len(runs)} stored runs into {readme}")


if __name__ == "__main__":
    nets.run_script(main)
