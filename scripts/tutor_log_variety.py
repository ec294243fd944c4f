"""Logs without variety? The tutoring comparison with the DKT trained on a mixture of policies.

python scripts/tutor_log_variety.py --threads 1                 # Riley, bkt, one DAgger round
python scripts/tutor_log_variety.py --curriculum chain --dynamics irt --rounds 0

The DKT (and with it the gain model and the DQN tutor) is trained on 2,000 random-policy
students plus 1,000 each of blocked, interleaved and the mastery rule with 20% random
exploration; each --rounds adds 2,000 students tutored by that round's DQN tutor and retrains
(kt/experiments/log_variety.py). Prints each round's table and paired verdicts and writes
OUT/round<k>/ (as tutor.py's run folder) and OUT/summary.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from riley_gym import nets
from riley_gym.envs.curriculum import load_curriculum
from riley_gym.envs.student_dynamics import make_dynamics
from riley_gym.kt.experiments.log_variety import run_log_variety
from riley_gym.kt.experiments.tutor_pipeline import TutorConfig
from riley_gym.kt.experiments.tutor_report import format_table


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    nets.add_arguments(parser.add_argument_group("settings (TutorConfig)"), TutorConfig)
    parser.add_argument("--rounds", type=int, default=1, help="DAgger rounds after the first")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: free)")
    parser.add_argument(
        "--out", default=None, help="output folder (default runs/log-variety/<time>)"
    )
    parser.add_argument("--overwrite", action="store_true", help="delete what --out holds first")
    nets.add_debug_flag(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        config = TutorConfig(**nets.given_arguments(args, TutorConfig))
    except nets.SettingsError as error:
        raise ValueError(error.flag_message())
    if args.rounds < 0 or (args.threads is not None and args.threads < 1):
        raise ValueError(f"--rounds must be >= 0 and --threads >= 1, got {args.rounds}, "
                         f"{args.threads}")  # fmt: skip
    torch.set_num_threads(args.threads or nets.free_cores())
    out = Path(args.out or f"runs/log-variety/{time.strftime('%Y%m%d-%H%M%S')}")
    nets.claim_run_folder(out, resume=False, overwrite=args.overwrite, run_files=("summary.json",))
    dynamics = make_dynamics(config.dynamics, load_curriculum(config.curriculum))
    print(f"training on mixture logs, then {args.rounds} DAgger round(s) (minutes each)...")
    results = run_log_variety(config, dynamics, out, rounds=args.rounds)
    summary = {"settings": config.to_dict(), "rounds": [], "torch_threads": torch.get_num_threads()}
    for index, result in enumerate(results):
        print(f"\nround {index} ({result['log_rows']} logged rows):")
        print(format_table(result["table"]))
        versus = result["verdicts"]["kt_vs_heuristics"]
        best = result["verdicts"]["best_kt_policy"]
        for name, row in versus.items():
            print(f"  {best} vs {name:<12} {row['diff']:+.4f} +- {row['ci95']:.4f}")
        summary["rounds"].append({"log_rows": result["log_rows"], "policies": result["policies"],
                                  "verdicts": result["verdicts"]})  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    nets.run_script(main)
