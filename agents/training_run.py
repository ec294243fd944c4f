"""A whole training run on disk: periodic evaluation and checkpoints, metrics.csv, summary.json, a curve.

``train_run`` is what ``scripts/train_agent.py`` calls; ``add_config_arguments`` and
``config_from_arguments`` turn ``DQNConfig``'s fields into command-line flags, so ``--help``
is the fields' help metadata.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm import tqdm

from riley_gym import nets
from riley_gym.agents.dqn import DQN, DQNConfig
from riley_gym.agents.evaluate import evaluate_agent
from riley_gym.agents.vector import EnvFactory, make_eval_env, make_vector_env

METRIC_FIELDS = [
    "env_steps",
    "train_seconds",
    "steps_per_second",
    "episodes",
    "epsilon",
    "learning_rate",
    "recent_return",
    "loss",
    "q_mean",
    "eval_mean",
    "eval_std",
]


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--field-name`` flag per ``DQNConfig`` field (default None: keep the preset's value)."""
    group = parser.add_argument_group("DQN settings (override the preset)")
    nets.add_arguments(group, DQNConfig, skip={"seed", "num_envs", "device"})  # the script's own


def config_from_arguments(args: argparse.Namespace, preset: str) -> DQNConfig:
    """The named preset with every given flag replaced (``args.seed``, ``num_envs`` and ``device`` too).

    Raises:
        nets.SettingsError: naming the field of a value that is not allowed.
    """
    overrides = nets.given_arguments(args, DQNConfig)
    return DQNConfig.preset(preset, **overrides)


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _tensorboard_writer(directory: Path, env_steps: int):
    """A TensorBoard writer when the ``tensorboard`` package is installed, else None (metrics.csv has everything).

    ``purge_step``: a resumed run drops the events a killed run wrote after its checkpoint.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(directory), purge_step=env_steps or None)


def train_run(
    env: EnvFactory | str,
    config: DQNConfig,
    total_steps: int,
    out: str | Path,
    resume: bool = False,
    eval_interval: int = 5000,
    eval_episodes: int = 10,
    final_eval_episodes: int = 20,
    checkpoint_interval: int = 10_000,
    target_return: float | None = None,
    save_replay: bool = True,
    keep_best: bool = True,
    progress: bool = False,
    env_kwargs: dict | None = None,
) -> dict:
    """Train a DQN on ``env`` for ``total_steps`` env steps, writing everything under ``out``.

    Writes ``checkpoint.pt`` (every ``checkpoint_interval`` steps and at the end),
    ``metrics.csv`` (one row per ``eval_interval``; the same scalars under ``tensorboard/`` when
    the tensorboard package is installed), ``learning_curve.png`` and ``summary.json``.
    With ``resume`` and an existing checkpoint, continues from it: an uninterrupted run and a
    killed-and-resumed run with the same seed end with the same weights and metrics (except times).
    With ``keep_best``, ``best.pt`` holds the weights of the best periodic evaluation (SB3's
    EvalCallback habit); the summary reports them evaluated afresh on the final evaluation's
    episodes (``best_mean_eval_return``), next to the final weights' ``mean_eval_return``.

    Returns:
        The summary dict written to ``summary.json``.
    """
    env_id = env if isinstance(env, str) else env.env_id
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "checkpoint.pt"
    wall_started, wall_before = (
        time.perf_counter(),
        0.0,
    )  # wall time includes evaluations and checkpoints; train_seconds does not
    if resume and checkpoint.is_file():
        agent, extra = DQN.load(
            checkpoint, make_vector_env(env, config.num_envs, env_kwargs), config
        )
        rows, train_seconds, reached = (
            extra["rows"],
            float(extra["train_seconds"]),
            extra["reached"],
        )
        wall_before = float(
            extra.get("wall_seconds", train_seconds)
        )  # checkpoints before this field: training time only
    else:
        agent, rows, train_seconds, reached = (
            DQN(make_vector_env(env, config.num_envs, env_kwargs), config),
            [],
            0.0,
            None,
        )
    eval_env = make_eval_env(env, env_kwargs=env_kwargs)
    board = _tensorboard_writer(out / "tensorboard", agent.env_steps)
    bar = None
    if progress:
        bar = tqdm(total=total_steps, initial=agent.env_steps, unit="step", dynamic_ncols=True)
    while agent.env_steps < total_steps:
        started, before = time.perf_counter(), agent.env_steps
        metrics = agent.learn(
            min(total_steps, (agent.env_steps // eval_interval + 1) * eval_interval)
        )
        train_seconds += time.perf_counter() - started
        returns = evaluate_agent(agent, eval_env, eval_episodes, seed=10_000 + agent.env_steps)
        row = {
            **{
                k: metrics[k]
                for k in (
                    "env_steps",
                    "episodes",
                    "epsilon",
                    "learning_rate",
                    "recent_return",
                    "loss",
                    "q_mean",
                )
            },
            "train_seconds": train_seconds,
            "steps_per_second": (agent.env_steps - before)
            / max(time.perf_counter() - started, 1e-9),
            "eval_mean": float(returns.mean()),
            "eval_std": float(returns.std()),
        }
        rows.append(row)
        if board is not None:
            for name in METRIC_FIELDS[1:]:
                board.add_scalar(name, row[name], row["env_steps"])
            board.flush()
        if target_return is not None and reached is None and row["eval_mean"] >= target_return:
            reached = {"env_steps": agent.env_steps, "train_seconds": train_seconds}
        if keep_best and row["eval_mean"] >= max(
            r["eval_mean"] for r in rows
        ):  # the latest of equal bests
            agent.save(
                out / "best.pt",
                include_replay=False,
                extra={"eval_mean": row["eval_mean"], "env_steps": agent.env_steps},
            )
        if bar is not None:
            bar.update(agent.env_steps - before)
            bar.set_postfix(
                sps=f"{row['steps_per_second']:.0f}",
                ret=f"{row['recent_return']:.1f}",
                eval=f"{row['eval_mean']:.1f}",
                eps=f"{row['epsilon']:.2f}",
            )
        if agent.env_steps % checkpoint_interval < eval_interval or agent.env_steps >= total_steps:
            agent.save(
                checkpoint,
                include_replay=save_replay,
                extra={
                    "rows": rows,
                    "train_seconds": train_seconds,
                    "reached": reached,
                    "wall_seconds": wall_before + time.perf_counter() - wall_started,
                },
            )
        _write_metrics(out / "metrics.csv", rows)
    if bar is not None:
        bar.close()
    if board is not None:
        board.close()
    final = evaluate_agent(agent, eval_env, final_eval_episodes, seed=1_000_000)
    best = {}
    if keep_best and (out / "best.pt").is_file():
        best_agent, best_extra = DQN.load(
            out / "best.pt", make_vector_env(env, config.num_envs, env_kwargs), config
        )
        best_returns = evaluate_agent(best_agent, eval_env, final_eval_episodes, seed=1_000_000)
        best = {
            "best_env_steps": best_extra["env_steps"],
            "best_periodic_eval": best_extra["eval_mean"],
            "best_mean_eval_return": float(best_returns.mean()),
            "best_std_eval_return": float(best_returns.std()),
        }
    summary = {
        "env_id": env_id,
        "total_steps": agent.env_steps,
        "seed": config.seed,
        "mean_eval_return": float(final.mean()),
        "std_eval_return": float(final.std()),
        "eval_episodes": final_eval_episodes,
        "eval_returns": final.tolist(),
        "steps_per_second": agent.env_steps / max(train_seconds, 1e-9),
        "train_seconds": train_seconds,
        "wall_seconds": wall_before + time.perf_counter() - wall_started,
        "peak_rss_mb": peak_rss_mb(),
        "replay_bytes_per_transition": agent.buffer.bytes_per_transition,
        **best,
        "target_return": target_return,
        "reached_target": reached,
        "exact_resume": agent.exact_resume,
        "updates": agent.updates,
        "episodes": agent.episodes,
        "load_average": list(os.getloadavg()),
        "tensorboard": board is not None,
        "settings": {
            "dqn": config.to_dict(),
            "eval_interval": eval_interval,
            "eval_episodes": eval_episodes,
            "checkpoint_interval": checkpoint_interval,
            "save_replay": save_replay,
            "keep_best": keep_best,
            "env_kwargs": env_kwargs or {},
        },
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _plot(out / "learning_curve.png", rows, env_id)
    return summary


def _write_metrics(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=METRIC_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def _plot(path: Path, rows: list[dict], env_id: str) -> None:
    steps = np.array([row["env_steps"] for row in rows])
    figure = Figure(figsize=(6, 3.5), layout="tight")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(
        steps, [row["recent_return"] for row in rows], label="training return (last 100 episodes)"
    )
    means, stds = (
        np.array([row["eval_mean"] for row in rows]),
        np.array([row["eval_std"] for row in rows]),
    )
    axes.plot(steps, means, label="evaluation return")
    axes.fill_between(steps, means - stds, means + stds, alpha=0.2)
    axes.set(xlabel="environment steps", ylabel="return", title=f"DQN on {env_id}")
    axes.legend(loc="best", fontsize=8)
    figure.savefig(path, dpi=100)
