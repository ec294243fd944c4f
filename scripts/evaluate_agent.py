"""Evaluate a trained DQN run: scripts/evaluate_agent.py --run RUN --episodes 20 --video ep.gif.

Loads RUN/checkpoint.pt (or --checkpoint), reports mean/std return over seeded episodes and,
with --video, writes one episode as a GIF (PIL) or, when imageio-ffmpeg is installed, an MP4;
--compare-random adds a uniform random policy on the same episodes and the paired difference.
"""

import argparse
import json
from pathlib import Path

import torch

from riley_gym import nets
from riley_gym.agents.training_run import evaluate_saved_run
from riley_gym.envs.factories import env_factory


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--run", required=True, help="a train_agent.py output folder")
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="weights (default RUN/checkpoint.pt; RUN/best.pt for the best)",
    )
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes")
    parser.add_argument(
        "--epsilon",
        type=float,
        default=None,
        help="exploration rate (default: the config's eval_epsilon)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=2_000_000,
        help="seed of the first episode (episode i uses seed + i)",
    )
    parser.add_argument("--video", default=None, help="write one episode to this .gif or .mp4")
    parser.add_argument("--fps", type=int, default=30, help="video frames per second")
    parser.add_argument(
        "--compare-random",
        action="store_true",
        help="also a uniform random policy on the same seeds, with the paired "
        "difference and its 95%% CI",
    )
    parser.add_argument("--out", default=None, help="folder for evaluation.json (default: RUN)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: free)")
    nets.add_debug_flag(parser)
    args = parser.parse_args()  # fmt: skip
    torch.set_num_threads(args.threads or nets.free_cores())
    result = evaluate_saved_run(
        args.run, env_factory, args.episodes, args.seed, args.epsilon,
        args.checkpoint, args.compare_random, args.video, args.fps,
    )  # fmt: skip
    if args.compare_random:
        print(f"agent - random: {json.dumps(result['difference_vs_random'])}")
    out = Path(args.out or args.run)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(result, indent=2))
    mean, spread = result["mean_return"], result["std_return"]
    print(f"{result['env_id']}: mean return {mean:.2f} +- {spread:.2f} over "
          f"{args.episodes} episodes; wrote {out / 'evaluation.json'}")  # fmt: skip


if __name__ == "__main__":
    nets.run_script(main)
