"""A whole training run on disk: evaluations, checkpoints, metrics.csv, summary.json, a curve.

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
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm import tqdm

from riley_gym import nets
from riley_gym.agents.dqn import DQN, DQNConfig
from riley_gym.agents.evaluate import evaluate_agent, paired_difference, record_episode, write_video
from riley_gym.agents.vector import EnvFactory, make_eval_env, make_vector_env

LEARN_METRICS = (
    "env_steps",
    "episodes",
    "epsilon",
    "learning_rate",
    "recent_return",
    "loss",
    "q_mean",
)
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
    """One ``--field-name`` flag per ``RunConfig`` and ``DQNConfig`` field (None: the default)."""
    nets.add_arguments(parser.add_argument_group("run settings"), RunConfig)
    group = parser.add_argument_group("DQN settings (override the preset)")
    nets.add_arguments(group, DQNConfig, skip={"seed", "num_envs", "device"})  # the script's own


def config_from_arguments(args: argparse.Namespace, preset: str) -> DQNConfig:
    """The named preset with every given flag replaced (``seed``, ``num_envs``, ``device`` too).

    Raises:
        nets.SettingsError: naming the field of a value that is not allowed.
    """
    overrides = nets.given_arguments(args, DQNConfig)
    return DQNConfig.preset(preset, **overrides)


def run_config_from_arguments(args: argparse.Namespace) -> RunConfig:
    """The ``RunConfig`` of the flags given (others keep their defaults)."""
    return RunConfig(**nets.given_arguments(args, RunConfig))


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _tensorboard_writer(directory: Path, env_steps: int):
    """A TensorBoard writer if the ``tensorboard`` package is installed, else None.

    (metrics.csv has everything either way.)

    ``purge_step``: a resumed run drops the events a killed run wrote after its checkpoint.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(directory), purge_step=env_steps or None)


@dataclass(frozen=True)
class RunConfig(nets.Settings):
    """What a training run does around the agent's learning: length, evaluations, checkpoints."""

    total_steps: int = field(
        default=50_000, metadata={"help": "environment steps (summed over envs)"}
    )
    eval_interval: int = field(default=5000, metadata={"help": "env steps between evaluations"})
    eval_episodes: int = field(default=10, metadata={"help": "episodes per periodic evaluation"})
    final_eval_episodes: int = field(
        default=20, metadata={"help": "episodes of the final evaluation"}
    )
    checkpoint_interval: int = field(
        default=10_000, metadata={"help": "env steps between checkpoints"}
    )
    target_return: float = field(
        default=float("nan"),
        metadata={"help": "record the first evaluation reaching this return (nan: none)"},
    )
    save_replay: bool = field(
        default=True,
        metadata={
            "help": "store the replay buffer in checkpoints (False: smaller, resume not exact)"
        },
    )
    keep_best: bool = field(
        default=True, metadata={"help": "keep best.pt, the weights of the best periodic evaluation"}
    )

    def __post_init__(self) -> None:
        self.check_at_least(["total_steps", "eval_interval", "checkpoint_interval"], 1)
        self.check_at_least(["eval_episodes", "final_eval_episodes"], 1)
        self.check("target_return", isinstance(self.target_return, int | float), "a number or nan")


# Settings a resumed run may change: a longer run, another device (the result is then not
# bit-exact, and the summary says so).
RESUMABLE_CHANGES = {"run.total_steps", "dqn.device"}
RUN_FILES = ("checkpoint.pt", "summary.json", "metrics.csv")


class ResumeError(ValueError):
    """A run cannot be resumed with the settings given."""


def _run_settings(env_id: str, env_kwargs: dict, config: DQNConfig, run: RunConfig) -> dict:
    return {
        "env_id": env_id,
        "env_kwargs": env_kwargs,
        "dqn": config.to_dict(),
        "run": run.to_dict(),
    }


def _flatten(settings: dict) -> dict:
    """``{"dqn": {"seed": 0}, "env_id": ...}`` -> ``{"dqn.seed": 0, "env_id": ...}``.

    (``env_kwargs`` stays whole.)
    """
    flat = {}
    for group, value in settings.items():
        if isinstance(value, dict) and group != "env_kwargs":
            flat.update({f"{group}.{key}": item for key, item in value.items()})
        else:
            flat[group] = value
    return flat


def _resume_changes(saved: dict, given: dict, done_steps: int) -> dict[str, list]:
    """The allowed differences ``{name: [in the run, now]}``; ``ResumeError`` naming any other."""
    saved, given = _flatten(saved), _flatten(given)
    changes, refused = {}, []
    for name in sorted(set(saved) | set(given)):
        before, now = saved.get(name, "<absent>"), given.get(name, "<absent>")
        if before == now or (before != before and now != now):  # NaN equals NaN here
            continue
        if name in RESUMABLE_CHANGES:
            changes[name] = [before, now]
        else:
            refused.append(f"{name}: {before!r} in the run, {now!r} now")
    steps = changes.get("run.total_steps")
    if steps is not None and steps[1] < done_steps:
        refused.append(f"run.total_steps: {steps[1]} now, but the run has done {done_steps} steps")
    if refused:
        raise ResumeError(
            "cannot resume with other settings (only --total-steps may grow and --device change): "
            + "; ".join(refused)
        )
    return changes


def train_run(
    env: EnvFactory | str,
    config: DQNConfig,
    run: RunConfig,
    out: str | Path,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    env_kwargs: dict | None = None,
) -> dict:
    """Train a DQN on ``env`` for ``run.total_steps`` env steps, writing everything under ``out``.

    Writes ``checkpoint.pt`` (every ``checkpoint_interval`` steps and at the end),
    ``metrics.csv`` (one row per ``eval_interval``; the same scalars under ``tensorboard/`` when
    the tensorboard package is installed), ``learning_curve.png`` and ``summary.json``.
    ``out`` must not hold another run unless ``resume`` (continue it) or ``overwrite`` (delete it
    first; ``nets.claim_run_folder``). A resumed run must be given the run's settings (it may
    only run longer or move to another device; ``resumed_changes`` in the summary lists what
    changed): an uninterrupted run and a killed-and-resumed one with the same seed end with the
    same weights and metrics (except times). With ``keep_best``, ``best.pt`` holds the weights of
    the best periodic evaluation (SB3's EvalCallback habit); the summary reports them evaluated
    afresh on the final evaluation's episodes (``best_mean_eval_return``), next to the final
    weights' ``mean_eval_return``.

    Args:
        env: an ``EnvFactory`` (``riley_gym.envs.factories.env_factory``) or a Gymnasium id.
        config: the agent's settings.
        run: the run's length, evaluations and checkpoints.
        out: the output folder.
        resume: continue the run in ``out`` from its checkpoint.
        overwrite: delete what is in ``out`` first.
        progress: show a progress bar.
        env_kwargs: ``gym.make`` keyword arguments when ``env`` is an id.

    Returns:
        The summary dict written to ``summary.json``.

    Raises:
        nets.RunFolderError: if ``out`` holds another run and neither flag is given, or there is
            nothing to resume.
        ResumeError: if a resumed run is given other settings.
    """
    env_id = env if isinstance(env, str) else env.env_id
    kwargs = dict(env_kwargs or {}) if isinstance(env, str) else dict(env.env_kwargs)
    out = nets.claim_run_folder(out, resume, overwrite, RUN_FILES)
    checkpoint = out / "checkpoint.pt"
    settings = _run_settings(env_id, kwargs, config, run)
    # Wall time includes evaluations and checkpoints; train_seconds does not.
    wall_started, wall_before, changes = time.perf_counter(), 0.0, {}
    if resume and checkpoint.is_file():
        agent, extra = DQN.load(
            checkpoint, make_vector_env(env, config.num_envs, env_kwargs), config
        )
        # Checkpoints without recorded settings (older runs): compare the agent's settings alone.
        saved = extra.get("settings") or {
            **settings,
            "dqn": nets.load_checkpoint(checkpoint)[1]["dqn"],
        }
        changes = _resume_changes(saved, settings, agent.env_steps)
        rows, train_seconds, reached = (
            extra["rows"],
            float(extra["train_seconds"]),
            extra["reached"],
        )
        wall_before = float(extra.get("wall_seconds", train_seconds))
    else:
        if resume:  # killed before its first checkpoint: nothing to continue from
            warnings.warn(
                f"{out} has no checkpoint.pt yet: the run starts from step 0", stacklevel=2
            )
        agent = DQN(make_vector_env(env, config.num_envs, env_kwargs), config)
        rows, train_seconds, reached = [], 0.0, None
    eval_env = make_eval_env(env, env_kwargs=env_kwargs)
    board = _tensorboard_writer(out / "tensorboard", agent.env_steps)
    total = run.total_steps
    bar = (
        tqdm(total=total, initial=agent.env_steps, unit="step", dynamic_ncols=True)
        if progress
        else None
    )
    while agent.env_steps < total:
        started, before = time.perf_counter(), agent.env_steps
        metrics = agent.learn(
            min(total, (agent.env_steps // run.eval_interval + 1) * run.eval_interval)
        )
        train_seconds += time.perf_counter() - started
        returns = evaluate_agent(agent, eval_env, run.eval_episodes, seed=10_000 + agent.env_steps)
        row = {key: metrics[key] for key in LEARN_METRICS}
        row.update(
            train_seconds=train_seconds,
            steps_per_second=(agent.env_steps - before) / max(time.perf_counter() - started, 1e-9),
            eval_mean=float(returns.mean()),
            eval_std=float(returns.std()),
        )
        rows.append(row)
        if board is not None:
            for name in METRIC_FIELDS[1:]:
                board.add_scalar(name, row[name], row["env_steps"])
            board.flush()
        if reached is None and row["eval_mean"] >= run.target_return:  # never for nan
            reached = {"env_steps": agent.env_steps, "train_seconds": train_seconds}
        if run.keep_best and row["eval_mean"] >= max(r["eval_mean"] for r in rows):  # latest best
            best_extra = {"eval_mean": row["eval_mean"], "env_steps": agent.env_steps}
            agent.save(out / "best.pt", include_replay=False, extra=best_extra)
        if bar is not None:
            bar.update(agent.env_steps - before)
            shown = {"sps": "steps_per_second", "ret": "recent_return", "eval": "eval_mean"}
            shown["eps"] = "epsilon"
            bar.set_postfix(**{key: f"{row[name]:.1f}" for key, name in shown.items()})
        if (
            agent.env_steps % run.checkpoint_interval < run.eval_interval
            or agent.env_steps >= total
        ):
            wall = wall_before + time.perf_counter() - wall_started
            state = {"rows": rows, "train_seconds": train_seconds, "reached": reached,
                     "wall_seconds": wall, "settings": settings}  # fmt: skip
            agent.save(checkpoint, include_replay=run.save_replay, extra=state)
        _write_metrics(out / "metrics.csv", rows)
    if bar is not None:
        bar.close()
    if board is not None:
        board.close()
    final = evaluate_agent(agent, eval_env, run.final_eval_episodes, seed=1_000_000)
    best = {}
    if run.keep_best and (out / "best.pt").is_file():
        vector = make_vector_env(env, config.num_envs, env_kwargs)
        best_agent, best_extra = DQN.load(out / "best.pt", vector, config)
        best_returns = evaluate_agent(best_agent, eval_env, run.final_eval_episodes, seed=1_000_000)
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
        "eval_episodes": run.final_eval_episodes,
        "eval_returns": final.tolist(),
        "steps_per_second": agent.env_steps / max(train_seconds, 1e-9),
        "train_seconds": train_seconds,
        "wall_seconds": wall_before + time.perf_counter() - wall_started,
        "peak_rss_mb": peak_rss_mb(),
        "replay_bytes_per_transition": agent.buffer.bytes_per_transition,
        **best,
        "target_return": None if run.target_return != run.target_return else run.target_return,
        "reached_target": reached,
        "exact_resume": agent.exact_resume and "dqn.device" not in changes,
        "resumed": resume,
        "resumed_changes": changes,
        "updates": agent.updates,
        "episodes": agent.episodes,
        "load_average": list(os.getloadavg()),
        "tensorboard": board is not None,
        "settings": settings,
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


def saved_run_env(run: str | Path) -> tuple[str, dict]:
    """(env id, env keyword arguments) that the run in folder ``run`` trained on (its summary.json).

    Raises:
        FileNotFoundError: if ``run`` has no summary.json (not a finished train_agent.py run).
    """
    path = Path(run) / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run} is not a finished train_agent.py run: no summary.json")
    summary = json.loads(path.read_text())
    return summary["env_id"], dict(summary["settings"].get("env_kwargs") or {})


def evaluate_saved_run(
    run: str | Path,
    make_env: Callable[[str, dict], EnvFactory],
    episodes: int = 20,
    seed: int = 2_000_000,
    epsilon: float | None = None,
    checkpoint: str | Path | None = None,
    compare_random: bool = False,
    video: str | Path | None = None,
    fps: int = 30,
) -> dict:
    """Returns of a saved agent over seeded episodes (a random policy's on the same seeds, a video).

    Args:
        run: a ``train_run`` output folder.
        make_env: (env id, env keyword arguments) -> the run's ``EnvFactory``
            (``riley_gym.envs.factories.env_factory``).
        episodes: evaluation episodes; episode i is seeded ``seed + i``.
        seed: seed of the first episode.
        epsilon: exploration rate (None: the config's ``eval_epsilon``).
        checkpoint: the weights (default ``run/checkpoint.pt``; ``run/best.pt`` for the best).
        compare_random: also a uniform random policy on the same seeds, and the paired difference
            with a 95% CI (needs ``episodes >= 30``, checked before any episode runs).
        video: write one episode to this .gif (or .mp4) path.
        fps: video frames per second.

    Returns:
        The evaluation as plain values (what ``evaluation.json`` holds).
    """
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    if compare_random and episodes < 30:
        raise ValueError(
            "--compare-random needs --episodes >= 30 for its normal-approximation 95% CI, got "
            f"{episodes}"
        )
    env_id, env_kwargs = saved_run_env(run)
    env = make_env(env_id, env_kwargs)
    summary = json.loads((Path(run) / "summary.json").read_text())
    config = DQNConfig.from_dict({**summary["settings"]["dqn"], "device": "cpu"})
    checkpoint = Path(checkpoint or Path(run) / "checkpoint.pt")
    agent, _ = DQN.load(checkpoint, make_vector_env(env, config.num_envs), config)
    returns = evaluate_agent(agent, make_eval_env(env), episodes, seed=seed, epsilon=epsilon)
    result = {
        "env_id": env_id,
        "checkpoint": str(checkpoint),
        "episodes": episodes,
        "seed": seed,
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "returns": returns.tolist(),
        "epsilon": config.eval_epsilon if epsilon is None else epsilon,
        "load_average": list(os.getloadavg()),
    }
    if compare_random:
        random_returns = evaluate_agent(agent, make_eval_env(env), episodes, seed=seed, epsilon=1.0)
        result.update(
            random_mean_return=float(random_returns.mean()),
            random_returns=random_returns.tolist(),
            difference_vs_random=paired_difference(returns, random_returns),
        )
    if video:
        screen = make_eval_env(env, render_mode="rgb_array")
        frames, video_return = record_episode(agent, screen, seed=seed, epsilon=epsilon)
        written = write_video(frames, video, fps)
        result.update(video=str(written), video_frames=len(frames), video_return=video_return)
    return result
