"""Train a DQN on a Gymnasium environment: python scripts/train_agent.py --env CartPole-v1 --seed 0.

Writes DIR/checkpoint.pt, metrics.csv, learning_curve.png and summary.json; --resume continues a
killed run from its last checkpoint and ends where an uninterrupted run would.
"""

import argparse
import json
import os

import torch

from riley_gym import nets
from riley_gym.agents.dqn import DQNConfig
from riley_gym.agents.training_run import (
    add_config_arguments,
    config_from_arguments,
    train_run,
)
from riley_gym.envs.factories import env_factory, suggested_dqn_preset


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--env",
        required=True,
        help="Gymnasium id, e.g. CartPole-v1, riley/GridWorld8x8-v0, riley/Student-v0, ALE/Breakout-v5",
    )
    parser.add_argument(
        "--preset",
        choices=DQNConfig.PRESETS,
        default=None,
        help="settings preset (default: chosen from the env id)",
    )
    parser.add_argument(
        "--total-steps", type=int, default=50_000, help="environment steps (summed over envs)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of agent and environments")
    parser.add_argument(
        "--num-envs", type=int, default=None, help="parallel environments (default: the preset's)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--out", default=None, help="output folder (default runs/dqn/<env>-seed<seed>)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from DIR/checkpoint.pt if present"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: free cores)"
    )
    parser.add_argument(
        "--eval-interval", type=int, default=5000, help="env steps between evaluations"
    )
    parser.add_argument(
        "--eval-episodes", type=int, default=10, help="episodes per periodic evaluation"
    )
    parser.add_argument(
        "--final-eval-episodes", type=int, default=20, help="episodes of the final evaluation"
    )
    parser.add_argument(
        "--checkpoint-interval", type=int, default=10_000, help="env steps between checkpoints"
    )
    parser.add_argument(
        "--target-return",
        type=float,
        default=None,
        help="record the first evaluation reaching this return",
    )
    parser.add_argument(
        "--no-replay-in-checkpoint",
        action="store_true",
        help="smaller checkpoints; resume is then not exact",
    )
    parser.add_argument(
        "--no-keep-best",
        action="store_true",
        help="do not keep best.pt (weights of the best periodic evaluation)",
    )
    parser.add_argument(
        "--env-kwargs", type=json.loads, default=None, help="JSON keyword arguments for gym.make"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_arguments(parser)
    args = parser.parse_args()
    preset = args.preset or suggested_dqn_preset(args.env)
    if args.num_envs is None:
        args.num_envs = DQNConfig.preset(preset).num_envs
    torch.set_num_threads(args.threads or nets.free_cores())
    config = config_from_arguments(args, preset)
    out = args.out or os.path.join("runs", "dqn", f"{args.env.replace('/', '_')}-seed{args.seed}")
    summary = train_run(
        env_factory(args.env, args.env_kwargs),
        config,
        args.total_steps,
        out,
        resume=args.resume,
        eval_interval=args.eval_interval,
        eval_episodes=args.eval_episodes,
        final_eval_episodes=args.final_eval_episodes,
        checkpoint_interval=args.checkpoint_interval,
        target_return=args.target_return,
        save_replay=not args.no_replay_in_checkpoint,
        keep_best=not args.no_keep_best,
        progress=not args.no_progress,
    )
    print(
        json.dumps(
            {
                k: summary[k]
                for k in (
                    "env_id",
                    "total_steps",
                    "seed",
                    "mean_eval_return",
                    "std_eval_return",
                    "steps_per_second",
                    "train_seconds",
                    "wall_seconds",
                    "peak_rss_mb",
                    "best_mean_eval_return",
                )
                if k in summary
            }
        )
    )
    print(f"wrote {out}/summary.json, metrics.csv, learning_curve.png, checkpoint.pt")


if __name__ == "__main__":
    main()
