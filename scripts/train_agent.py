"""Train a DQN on a Gymnasium environment: python scripts/train_agent.py --env CartPole-v1 --seed 0.

Writes DIR/checkpoint.pt, metrics.csv, learning_curve.png and summary.json. --resume continues
a killed run from its last checkpoint and ends where an uninterrupted run would (given the
run's flags again; only --total-steps may grow); --overwrite deletes what DIR holds first.
"""

import argparse
import json
import os

import gymnasium as gym
import torch

from riley_gym import nets
from riley_gym.agents.dqn import DQNConfig
from riley_gym.agents.training_run import (
    add_config_arguments,
    config_from_arguments,
    run_config_from_arguments,
    train_run,
)
from riley_gym.envs.factories import env_factory, known_env_id, suggested_dqn_preset

SHOWN = ("env_id", "total_steps", "seed", "mean_eval_return", "std_eval_return")
SHOWN += ("steps_per_second", "train_seconds", "wall_seconds", "best_mean_eval_return")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--env",
        required=True,
        type=known_env_id,
        help="Gymnasium id: CartPole-v1, riley/GridWorld8x8-v0, ALE/Breakout-v5...",
    )
    parser.add_argument(
        "--preset",
        choices=DQNConfig.PRESETS,
        default=None,
        help="settings preset (default: chosen from the env id)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of agent and environments")
    parser.add_argument(
        "--num-envs", type=int, default=None, help="parallel envs (default: preset's)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--out", default=None, help="output folder (default runs/dqn/<env>-seed<seed>)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--overwrite", action="store_true", help="delete what --out holds first")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: free cores)"
    )
    parser.add_argument(
        "--env-kwargs", type=json.loads, default=None, help="JSON gym.make keywords"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    nets.add_debug_flag(parser)
    add_config_arguments(parser)
    args = parser.parse_args()  # fmt: skip
    preset = args.preset or suggested_dqn_preset(args.env)
    if args.num_envs is None:
        args.num_envs = DQNConfig.preset(preset).num_envs
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    try:
        config, run = config_from_arguments(args, preset), run_config_from_arguments(args)
    except nets.SettingsError as error:
        parser.error(error.flag_message())
    torch.set_num_threads(args.threads or nets.free_cores())
    out = args.out or os.path.join("runs", "dqn", f"{args.env.replace('/', '_')}-seed{args.seed}")
    env = env_factory(args.env, args.env_kwargs)
    summary = train_run(env, config, run, out, args.resume, args.overwrite, not args.no_progress)
    print(json.dumps({key: summary[key] for key in SHOWN if key in summary}))
    print(f"wrote {out}/summary.json, metrics.csv, learning_curve.png, checkpoint.pt")


if __name__ == "__main__":
    nets.run_script(main, extra_errors=(gym.error.Error,))
