"""This DQN against Stable-Baselines3's DQN, back to back with identical settings.

python scripts/bench_dqn.py

CartPole-v1 with rl-baselines3-zoo's dqn.yml settings (50k steps) and Breakout with Nature
settings (4 envs, one learning step of batch 32 per 4 env steps, learning_starts lowered).
Both sides run the same algorithm: SB3's DQN has max-over-target targets, so ours runs with
double_dqn=False here. Each side runs in its own subprocess (separate peak RSS) with the same
torch thread count; with several --seeds, each seed runs both sides back to back.
Prints steps/s and ratios, peak memory, replay bytes per transition, CartPole training time to
a 475 evaluation return, and Breakout's time per learning step with the ceiling it implies.
CartPole runs are chaotic: on independent random numbers the two sides reach 475 at different
steps, so few seeds compare noisily. ``--paired`` gives ours SB3's random numbers: both then make
the same run (the networks' digests are compared at every evaluation) and the times to 475
compare at the same step.
"""

import argparse  # noqa: E401
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from riley_gym import nets

ZOO_CARTPOLE = dict(
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1000,
    gamma=0.99,
    target_update_interval=10,
    train_freq=256,
    gradient_steps=128,
    exploration_fraction=0.16,
    exploration_final_eps=0.04,
    hidden=[256, 256],
)
NATURE_BREAKOUT = dict(
    learning_rate=1e-4,
    batch_size=32,
    buffer_size=10_000,
    learning_starts=1000,
    gamma=0.99,
    target_update_interval=1000,
    train_freq=1,
    gradient_steps=1,
    exploration_fraction=0.1,
    exploration_final_eps=0.01,
    num_envs=4,
)


def settings(task, quick):
    s = (
        dict(ZOO_CARTPOLE, total=50_000, eval_interval=2500)
        if task == "cartpole"
        else dict(NATURE_BREAKOUT, total=5000)
    )
    if quick:
        s.update(
            total=1000, learning_starts=500, eval_interval=500
        ) if task == "cartpole" else s.update(total=200, learning_starts=100, buffer_size=1000)
    return s


def weights_digest(parameters):
    """sha256 of the parameters' float32 bytes in order: equal digests mean bit-identical nets."""
    digest = hashlib.sha256()
    for p in parameters:
        digest.update(p.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def sb3_policy_kwargs(s, paired):
    # Paired runs put SB3 on fused Adam, the optimizer we use: the pairing is then bit for bit
    # (agents/sb3_pairing.py).
    return dict(net_arch=s["hidden"], **({"optimizer_kwargs": {"fused": True}} if paired else {}))


def sb3_kwargs(s):
    return {
        k: s[k]
        for k in (
            "learning_rate",
            "batch_size",
            "buffer_size",
            "learning_starts",
            "gamma",
            "target_update_interval",
            "train_freq",
            "gradient_steps",
            "exploration_fraction",
            "exploration_final_eps",
        )
    }


def run_ours_paired(config, s, seed):
    """CartPole on SB3's random numbers for ``seed``: the run SB3 makes, timed as ours.

    The evaluations are excluded from the time.
    """
    from stable_baselines3 import DQN as SB3DQN

    from riley_gym.agents import evaluate_agent, make_eval_env
    from riley_gym.agents.sb3_pairing import sb3_paired_agent

    sb3_model = SB3DQN(
        "MlpPolicy",
        "CartPole-v1",
        policy_kwargs=sb3_policy_kwargs(s, True),
        seed=seed,
        device="cpu",
        **sb3_kwargs(s),
    )
    agent = sb3_paired_agent("CartPole-v1", config, sb3_model)
    eval_env, train_seconds, reached, digests = make_eval_env("CartPole-v1"), 0.0, None, []
    for end in range(s["eval_interval"], s["total"] + 1, s["eval_interval"]):
        started = time.perf_counter()
        agent.learn(end)
        train_seconds += time.perf_counter() - started
        digests.append(weights_digest(agent.online.parameters()))
        if reached is None and evaluate_agent(agent, eval_env, 10, seed=10_000 + end).mean() >= 475:
            reached = (end, train_seconds)
    return {
        "steps_per_second": s["total"] / train_seconds,
        "train_seconds": train_seconds,
        "final_eval": float(evaluate_agent(agent, eval_env, 10, seed=1_000_000).mean()),
        "seconds_to_475": reached and reached[1],
        "steps_to_475": reached and reached[0],
        "replay_bytes_per_transition": agent.buffer.bytes_per_transition,
        "evaluated_weights_sha256": digests,
    }


def run_ours(task, s, seed, out, paired=False):
    from riley_gym.agents import DQN, DQNConfig, make_vector_env
    from riley_gym.agents.training_run import RunConfig, train_run
    from riley_gym.envs.factories import env_factory

    common = dict(
        seed=seed,
        learning_rate=s["learning_rate"],
        batch_size=s["batch_size"],
        buffer_size=s["buffer_size"],
        learning_starts=s["learning_starts"],
        gamma=s["gamma"],
        target_update_interval=s["target_update_interval"],
        train_freq=s["train_freq"],
        gradient_steps=s["gradient_steps"],
        epsilon_end=s["exploration_final_eps"],
        epsilon_decay_steps=int(s["exploration_fraction"] * s["total"]),
        device="cpu",
        double_dqn=False,
    )  # SB3's DQN has max-over-target targets: the same algorithm on both sides
    if task == "cartpole":
        config = DQNConfig.cartpole(**common, hidden_sizes=tuple(s["hidden"]))
        if paired:
            return run_ours_paired(config, s, seed)
        run = RunConfig(
            total_steps=s["total"],
            eval_interval=s["eval_interval"],
            eval_episodes=10,
            final_eval_episodes=10,
            checkpoint_interval=10**9,
            target_return=475,
            save_replay=False,
        )
        summary = train_run("CartPole-v1", config, run, out, overwrite=True)
        reached = summary["reached_target"]
        return {
            "steps_per_second": summary["steps_per_second"],
            "train_seconds": summary["train_seconds"],
            "final_eval": summary["mean_eval_return"],
            "seconds_to_475": reached and reached["train_seconds"],
            "steps_to_475": reached and reached["env_steps"],
            "replay_bytes_per_transition": summary["replay_bytes_per_transition"],
        }
    agent = DQN(
        make_vector_env(env_factory("ALE/Breakout-v5", {"seed": seed}), s["num_envs"]),
        DQNConfig.atari(**common, num_envs=s["num_envs"]),
    )
    started = time.perf_counter()
    agent.learn(s["total"])
    seconds = time.perf_counter() - started
    batches = [agent.buffer.sample(32) for _ in range(25)]
    agent.update(batches[0])  # warm-up
    started = time.perf_counter()
    for batch in batches[1:]:
        agent.update(batch)
    step_ms = (time.perf_counter() - started) / 24 * 1e3
    return {
        "steps_per_second": s["total"] / seconds,
        "train_seconds": seconds,
        "learn_step_ms": step_ms,
        "replay_bytes_per_transition": agent.buffer.bytes_per_transition,
    }


def seeded_returns(model, env, first_seed, episodes=10):
    """Greedy returns of an SB3 model on episodes reset with seeds first_seed + i: the starts our
    evaluate_agent uses at the same step (SB3's evaluate_policy would draw unseeded starts)."""
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=first_seed + episode)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(action))
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return np.array(returns)


def run_sb3(task, s, seed, out, paired=False):
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    kwargs = sb3_kwargs(s)
    if task == "cartpole":
        eval_env, clock = gym.make("CartPole-v1"), {"eval": 0.0, "reached": None, "digests": []}

        class Evaluate(BaseCallback):
            def _on_step(self):
                if self.num_timesteps % s["eval_interval"] == 0:
                    paused = time.perf_counter()
                    clock["digests"].append(weights_digest(self.model.q_net.parameters()))
                    returns = seeded_returns(
                        self.model, eval_env, first_seed=10_000 + self.num_timesteps
                    )
                    clock["eval"] += time.perf_counter() - paused
                    if clock["reached"] is None and np.mean(returns) >= 475:
                        clock["reached"] = (
                            self.num_timesteps,
                            time.perf_counter() - clock["start"] - clock["eval"],
                        )
                return True

        model = DQN(
            "MlpPolicy",
            "CartPole-v1",
            policy_kwargs=sb3_policy_kwargs(s, paired),
            seed=seed,
            device="cpu",
            **kwargs,
        )
        clock["start"] = time.perf_counter()
        model.learn(s["total"], callback=Evaluate())
        seconds = time.perf_counter() - clock["start"] - clock["eval"]
        final = seeded_returns(
            model, eval_env, first_seed=1_000_000
        ).mean()  # our final evaluation's seeds
        result = {
            "steps_per_second": s["total"] / seconds,
            "train_seconds": seconds,
            "final_eval": float(final),
            "seconds_to_475": clock["reached"] and clock["reached"][1],
            "steps_to_475": clock["reached"] and clock["reached"][0],
            "evaluated_weights_sha256": clock["digests"],
        }
    else:
        from stable_baselines3.common.vec_env import DummyVecEnv

        from riley_gym.envs.atari import make_atari

        # The same preprocessing as ours (SB3's own Atari wrappers need OpenCV), stepped in SB3's
        # DummyVecEnv.
        env = DummyVecEnv(
            [lambda: make_atari("Breakout", training=True) for _ in range(s["num_envs"])]
        )
        env.seed(seed)
        model = DQN(
            "CnnPolicy", env, seed=seed, device="cpu", optimize_memory_usage=False, **kwargs
        )
        started = time.perf_counter()
        model.learn(s["total"])
        seconds = time.perf_counter() - started
        model.train(gradient_steps=1, batch_size=32)  # warm-up
        started = time.perf_counter()
        model.train(gradient_steps=24, batch_size=32)
        result = {
            "steps_per_second": s["total"] / seconds,
            "train_seconds": seconds,
            "learn_step_ms": (time.perf_counter() - started) / 24 * 1e3,
        }
    buffer = model.replay_buffer
    arrays = [
        getattr(buffer, name)
        for name in ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
        if getattr(buffer, name, None) is not None
    ]
    result["replay_bytes_per_transition"] = sum(a.nbytes for a in arrays) / s["buffer_size"]
    return result


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tasks", nargs="+", choices=["cartpole", "breakout"], default=["cartpole", "breakout"]
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help=(
            "seeds; each runs both sides back to back "
            "(CartPole's time to 475 is reported per seed and as medians)"
        ),
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for both sides (default: free cores)",
    )
    parser.add_argument(
        "--paired",
        action="store_true",
        help=(
            "CartPole: run ours on SB3's random numbers for each seed (SB3 on fused Adam): "
            "both make the same run, bit for bit, so their times to 475 compare at the same step "
            "(common random numbers; see agents/sb3_pairing.py)"
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run (1000 CartPole steps, 200 Breakout steps)",
    )
    parser.add_argument("--out", default="runs/bench_dqn")
    parser.add_argument("--side", choices=["ours", "sb3"], help=argparse.SUPPRESS)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    threads = args.threads or nets.free_cores()
    if args.side:  # one side of one task, in its own process
        torch.set_num_threads(threads)
        s = settings(args.task, args.quick)
        result = (run_ours if args.side == "ours" else run_sb3)(
            args.task, s, args.seeds[0], out / f"{args.side}_{args.task}", args.paired
        )
        result.update(
            peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            threads=threads,
            load_average=list(os.getloadavg()),
        )
        (out / f"{args.side}_{args.task}.json").write_text(json.dumps(result))
        return
    from tqdm import tqdm

    results = {task: {"settings": settings(task, args.quick), "runs": []} for task in args.tasks}
    for task, seed in tqdm(
        [(t, seed) for t in args.tasks for seed in args.seeds], desc="bench runs (both sides each)"
    ):
        run = {"seed": seed}
        for side in ("ours", "sb3"):
            command = [
                sys.executable,
                __file__,
                "--side",
                side,
                "--task",
                task,
                "--seeds",
                str(seed),
                "--threads",
                str(threads),
                "--out",
                str(out),
            ]
            subprocess.run(
                command
                + (["--quick"] if args.quick else [])
                + (["--paired"] if args.paired else []),
                check=True,
            )
            run[side] = json.loads((out / f"{side}_{task}.json").read_text())
        run["steps_per_second_ratio"] = (
            run["ours"]["steps_per_second"] / run["sb3"]["steps_per_second"]
        )
        if task == "cartpole":
            # the networks at every evaluation (SB3 trains past total to finish its last rollout:
            # not the final ones)
            if args.paired:
                run["same_weights_at_every_evaluation"] = (
                    run["ours"]["evaluated_weights_sha256"]
                    == run["sb3"]["evaluated_weights_sha256"]
                )
            if run["ours"]["seconds_to_475"] and run["sb3"]["seconds_to_475"]:
                run["time_to_475_ratio"] = (
                    run["ours"]["seconds_to_475"] / run["sb3"]["seconds_to_475"]
                )
        if task == "breakout":
            for side in ("ours", "sb3"):
                run[side]["ceiling_steps_per_second"] = (
                    4 * 1000 / run[side]["learn_step_ms"]
                )  # one learning step per 4 env steps
                run[side]["fraction_of_ceiling"] = (
                    run[side]["steps_per_second"] / run[side]["ceiling_steps_per_second"]
                )
        results[task]["runs"].append(run)
    for task, r in results.items():
        runs = r["runs"]
        r["median_steps_per_second_ratio"] = float(
            np.median([run["steps_per_second_ratio"] for run in runs])
        )
        if task == "cartpole":
            # A seed that never reaches 475 counts as infinitely slow; the median is None when most
            # seeds never reach it.
            for side in ("ours", "sb3"):
                times = [run[side]["seconds_to_475"] or float("inf") for run in runs]
                r[f"{side}_seeds_reaching_475"] = int(np.isfinite(times).sum())
                median = float(np.median(times))
                r[f"{side}_median_seconds_to_475"] = median if np.isfinite(median) else None
            if r["ours_median_seconds_to_475"] and r["sb3_median_seconds_to_475"]:
                r["median_time_to_475_ratio"] = (
                    r["ours_median_seconds_to_475"] / r["sb3_median_seconds_to_475"]
                )
            paired = (
                [run["time_to_475_ratio"] for run in runs if "time_to_475_ratio" in run]
                if args.paired
                else []
            )
            if paired:  # per seed, both sides at the same step (the same run)
                r["same_step_time_to_475_ratios"] = paired
                r["median_same_step_time_to_475_ratio"] = float(np.median(paired))
        print(
            f"\n{task} (ratio = ours / sb3): "
            + json.dumps({k: v for k, v in r.items() if k != "settings"}, indent=1)
        )
    summary = {
        "results": results,
        "seeds": args.seeds,
        "threads": threads,
        "quick": args.quick,
        "paired": args.paired,
        "load_average_end": list(os.getloadavg()),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out}/summary.json")


if __name__ == "__main__":
    main()
