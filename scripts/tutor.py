"""Which exercise next for Riley? Compare tutoring policies on simulated students and real logs.

python scripts/tutor.py                       # default run: Riley, bkt dynamics, all policies
python scripts/tutor.py --dynamics irt
python scripts/tutor.py --logs ../shared/data/assist2009_builder/builder_train.csv --top-skills 8
python scripts/tutor.py --interactive         # you play the student (y/n on stdin)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

import torch
from tqdm import tqdm

from riley_gym import nets
from riley_gym.kt.experiments.tutor_pipeline import POLICIES, TutorConfig
from riley_gym.kt.tutoring.simulation import format_paired, format_table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    help_of = {f.name: f.metadata.get("help", "") for f in fields(TutorConfig)}
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--curriculum", default="riley", help=help_of["curriculum"])
    parser.add_argument(
        "--dynamics", default="bkt", choices=["bkt", "irt"], help=help_of["dynamics"]
    )
    parser.add_argument("--students", type=int, default=None, help=help_of["students"])
    parser.add_argument("--session-length", type=int, default=None, help=help_of["session_length"])
    parser.add_argument("--log-students", type=int, default=None, help=help_of["log_students"])
    parser.add_argument(
        "--policies", default=None, help=f"comma-separated, from {','.join(POLICIES)}"
    )
    parser.add_argument("--dqn-steps", type=int, default=None, help=help_of["dqn_steps"])
    parser.add_argument("--horizon", type=int, default=None, help=help_of["expectimax_horizon"])
    parser.add_argument("--seed", type=int, default=0, help=help_of["seed"])
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the free cores)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny preset for tests (figures not meaningful)"
    )
    parser.add_argument("--out", default=None, help="output folder (default runs/tutor/<time>)")
    parser.add_argument(
        "--logs",
        default=None,
        help="a student log: calibrate the simulator to it and evaluate there",
    )
    parser.add_argument(
        "--format",
        default="auto",
        help="log format for --logs (auto, interactions, three-line, pykt, matrix)",
    )
    parser.add_argument(
        "--top-skills", type=int, default=8, help="with --logs: keep the N most-practised skills"
    )
    parser.add_argument(
        "--interactive", action="store_true", help="play the student yourself: answer y/n on stdin"
    )
    parser.add_argument(
        "--interactive-policy",
        default="mastery",
        choices=["mastery", "zpd", "greedy", "expectimax"],
        help="policy that tutors you",
    )
    return parser.parse_args(argv)


def make_config(args: argparse.Namespace) -> TutorConfig:
    overrides = {"curriculum": args.curriculum, "dynamics": args.dynamics, "seed": args.seed}
    for flag, name in [
        ("students", "students"),
        ("session_length", "session_length"),
        ("log_students", "log_students"),
        ("dqn_steps", "dqn_steps"),
        ("horizon", "expectimax_horizon"),
    ]:
        if getattr(args, flag) is not None:
            overrides[name] = getattr(args, flag)
    if args.policies:
        overrides["policies"] = tuple(name.strip() for name in args.policies.split(","))
    return TutorConfig.quick(**overrides) if args.quick else TutorConfig(**overrides)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads or nets.free_cores())
    config = make_config(args)
    out = Path(args.out or f"runs/tutor/{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    if args.interactive:
        from riley_gym.kt.experiments.tutor_pipeline import interactive_recommender
        from riley_gym.kt.tutoring.simulation import interactive_session

        recommender = interactive_recommender(config, args.interactive_policy)
        answers = interactive_session(
            recommender, sys.stdin, sys.stdout, max_steps=config.session_length, seed=args.seed
        )
        (out / "summary.json").write_text(
            json.dumps(
                {
                    "mode": "interactive",
                    "answers": answers,
                    "policy": args.interactive_policy,
                    "settings": config.to_dict(),
                },
                indent=2,
            )
        )
        return 0
    if args.logs:
        from riley_gym.kt.experiments.calibrate import run_on_logs

        with tqdm(total=len(config.policies) + 3, desc="logs") as bar:
            result = run_on_logs(args.logs, args.format, args.top_skills, config, out, progress=bar)
        print(
            "\nFit of the calibrated simulator (correctness by attempt number, real vs simulated):"
        )
        print(result["fit_table"].to_string(float_format=lambda v: f"{v:.3f}"))
        print(
            f"\nKT models on held-out real students: DKT AUC {result['dkt_heldout_auc']:.3f}, "
            f"BKT AUC {result['bkt_heldout_auc']:.3f}"
        )
        print("\nPolicies vs logged sequences for held-out students, judged by the DKT:")
        print(result["judge_table"].to_string(float_format=lambda v: f"{v:+.4f}"))
        print(
            "CAVEAT: this judge is a model (the DKT trained on the log), not a student; "
            "it favours sequences it predicts well."
        )
    else:
        with tqdm(total=len(config.policies) + 2, desc="tutor") as bar:
            from riley_gym.kt.experiments.tutor_pipeline import run_tutor

            result = run_tutor(config, out, progress=bar)
    print(
        f"\nPolicies on {config.students} simulated students "
        f"({result['settings']['dynamics']} dynamics, {config.session_length} exercises):"
    )
    print(format_table(result["table"]))
    best = [name for name in dict.fromkeys(result["best"].values()) if name]
    print("\nPaired differences in post-test (same students), best policies:")
    print(format_paired(result["paired_differences"], best))
    print(
        "(oracle: reads the hidden state, upper bound only; steps to mastery censored at "
        f"{config.session_length})"
    )
    print(
        f"DKT test AUC {result['dkt_test_auc']:.3f}, BKT {result['bkt_test_auc']:.3f}; "
        f"wall {result['seconds']['total']:.0f} s; wrote {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
