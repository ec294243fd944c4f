"""Evaluate a trained DQN run: python scripts/evaluate_agent.py --run runs/dqn/CartPole-v1-seed0 --episodes 20 --video ep.gif.

Loads DIR/checkpoint.pt (or --checkpoint), reports mean/std return over seeded episodes and,
with --video, writes one episode as a GIF (PIL) or, when imageio-ffmpeg is installed, an MP4.
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from riley_gym import nets
from riley_gym.agents import (
    DQN,
    DQNConfig,
    evaluate_agent,
    make_eval_env,
    make_vector_env,
    paired_difference,
    record_episode,
)
from riley_gym.envs.factories import env_factory


def write_video(frames: list, path: Path, fps: int) -> Path:
    """GIF through PIL; MP4 through imageio-ffmpeg if present (else a ValueError naming the fix)."""
    if path.suffix.lower() == ".mp4":
        try:
            import imageio.v2 as imageio
            import imageio_ffmpeg  # noqa: F401
        except ImportError as error:
            raise ValueError(
                f"--video {path}: MP4 needs imageio and imageio-ffmpeg ({error}); use a .gif path"
            ) from error
        imageio.mimwrite(path, frames, fps=fps)
        return path
    if path.suffix.lower() != ".gif":
        raise ValueError(f"--video must end in .gif or .mp4, got {path}")
    from PIL import Image

    images = [Image.fromarray(np.asarray(frame)) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--run",
        required=True,
        help="a train_agent.py output folder (holds summary.json and checkpoint.pt)",
    )
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="checkpoint file (default RUN/checkpoint.pt; RUN/best.pt for the best)",
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
    parser.add_argument(
        "--video", default=None, help="write one episode to this .gif (or .mp4) path"
    )
    parser.add_argument("--fps", type=int, default=30, help="video frames per second")
    parser.add_argument(
        "--compare-random",
        action="store_true",
        help="also run a uniform random policy on the same episode seeds; report the paired difference with a 95%% CI",
    )
    parser.add_argument("--out", default=None, help="folder for evaluation.json (default: RUN)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: free cores)"
    )
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")
    if args.compare_random and args.episodes < 30:  # checked before minutes of episodes, not after
        parser.error(
            f"--compare-random needs --episodes >= 30 for its normal-approximation 95% CI, got {args.episodes}"
        )
    torch.set_num_threads(args.threads or nets.free_cores())
    run = Path(args.run)
    settings = json.loads((run / "summary.json").read_text())
    env_id = settings["env_id"]
    env = env_factory(env_id, settings["settings"].get("env_kwargs"))
    config = DQNConfig.from_dict({**settings["settings"]["dqn"], "device": "cpu"})
    checkpoint = Path(args.checkpoint or run / "checkpoint.pt")
    agent, _ = DQN.load(checkpoint, make_vector_env(env, config.num_envs), config)
    returns = evaluate_agent(
        agent,
        make_eval_env(env),
        args.episodes,
        seed=args.seed,
        epsilon=args.epsilon,
    )
    result = {
        "env_id": env_id,
        "checkpoint": str(checkpoint),
        "episodes": args.episodes,
        "seed": args.seed,
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "returns": returns.tolist(),
        "epsilon": config.eval_epsilon if args.epsilon is None else args.epsilon,
        "load_average": list(os.getloadavg()),
    }
    if args.compare_random:
        random_returns = evaluate_agent(
            agent,
            make_eval_env(env),
            args.episodes,
            seed=args.seed,
            epsilon=1.0,
        )
        result.update(
            random_mean_return=float(random_returns.mean()),
            random_returns=random_returns.tolist(),
            difference_vs_random=paired_difference(returns, random_returns),
        )
        print(f"agent - random: {json.dumps(result['difference_vs_random'])}")
    if args.video:
        frames, video_return = record_episode(
            agent,
            make_eval_env(env, render_mode="rgb_array"),
            seed=args.seed,
            epsilon=args.epsilon,
        )
        result.update(
            video=str(write_video(frames, Path(args.video), args.fps)),
            video_frames=len(frames),
            video_return=video_return,
        )
    out = Path(args.out or run)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(result, indent=2))
    print(
        f"{env_id}: mean return {result['mean_return']:.2f} +- {result['std_return']:.2f} over {args.episodes} episodes; wrote {out / 'evaluation.json'}"
    )


if __name__ == "__main__":
    main()
