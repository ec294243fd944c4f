"""The tutoring model behind the web page: trained once on simulated logs, then kept in a folder.

A ``TutoringModel`` is what ``kt.experiments.tutor_pipeline`` builds for its comparison, kept
for one curriculum: a DKT over exercises and a BKT over skills fitted on simulated logs of
the random policy (``train_models``), the DQN tutor trained on the DKT's knowledge estimate
(``train_dqn_tutor``), and every policy of ``tutor_pipeline.POLICIES`` that a person can be
tutored by (``build_recommenders``; the oracle reads a simulator's hidden state, so it is
left out). A policy added to ``POLICIES`` later appears on the page without a change here.

``train_model`` took 27 s on one core with ``web_config()`` (3,000 simulated students, DKT of
64 units for up to 12 epochs, the gain model with two rounds, the rollout values on 250
students per heuristic, 100k DQN student-steps; load average about 1.5); ``save_model`` writes
the folder (``summary.json``, ``dkt/``, ``bkt/``, ``dqn.pt``, ``gain.pt``, ``rollout.pt``) and
``load_model`` reads it back in well under a second, so only the first start of the server
trains.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from riley_gym.agents import DQN
from riley_gym.envs.curriculum import Curriculum, load_curriculum
from riley_gym.envs.simulate import simulate_logs
from riley_gym.envs.student_dynamics import StudentDynamics, make_dynamics
from riley_gym.envs.student_vector import StudentVectorEnv
from riley_gym.kt.experiments.tutor_pipeline import (
    POLICIES,
    TutorConfig,
    build_recommenders,
    prepare_tutors,
)
from riley_gym.kt.models.bkt import BKT
from riley_gym.kt.models.dkt import DKT
from riley_gym.kt.tutoring.dqn_tutor import DQNTutorConfig, KnowledgeVectorEnv
from riley_gym.kt.tutoring.gain_model import GainEstimate, GainModel
from riley_gym.kt.tutoring.policy_improvement import RolloutEnsemble
from riley_gym.kt.tutoring.recommend import BKTBelief, DKTBelief, Recommender

__all__ = [
    "FORMAT",
    "PAGE_POLICIES",
    "TutoringModel",
    "web_config",
    "train_model",
    "save_model",
    "load_model",
    "default_folder",
    "load_or_train",
    "model_for_serving",
    "quick_config",
    "exercise_table",
    "skill_average",
]

FORMAT = "riley-gym web tutoring model"
VERSION = 1
SUMMARY_FILE = "summary.json"
# The policies a person can be tutored by: all of the pipeline's but the oracle, which reads
# the simulator's hidden state (kt/tutoring/recommend.py) and so has nothing to read here.
PAGE_POLICIES = tuple(name for name in POLICIES if name != "oracle")


def web_config(curriculum: str = "riley", seed: int = 0, **overrides: Any) -> TutorConfig:
    """The settings of the default web model: large enough to tutor sensibly, trained in ~27 s.

    Args:
        curriculum: ``"riley"`` or a curriculum file.
        seed: seed of the logs, the models and the DQN tutor.
        **overrides: other ``TutorConfig`` fields (e.g. ``TutorConfig.quick``'s for tests).
    """
    settings = dict(
        curriculum=str(curriculum),
        seed=seed,
        session_length=30,
        log_students=3000,
        dkt_hidden=64,
        dkt_epochs=12,
        dqn_steps=100_000,
        gain_students=500,
        rollout_students=250,
        curve_points=0,
        policies=PAGE_POLICIES,
    )
    return TutorConfig(**{**settings, **overrides})


@dataclass
class TutoringModel:
    """Everything a tutoring session on the page needs, for one curriculum.

    Attributes:
        config: the settings it was trained with.
        curriculum: the curriculum (kept whole, so a saved model needs no file).
        dynamics: the simulated students' dynamics (the page's "simulate" button draws from it).
        dkt_belief: the DKT stepped one answer at a time (the heatmap and the DKT policies).
        bkt_belief: the BKT posterior (the mastery policy and the mastery bars).
        recommenders: policy name -> recommender, in ``PAGE_POLICIES`` order.
        info: figures of the training run (test AUCs, seconds, where it came from).
    """

    config: TutorConfig
    curriculum: Curriculum
    dynamics: StudentDynamics
    dkt: DKT
    bkt: BKT
    dqn: Any
    gain_model: GainModel | None
    dkt_belief: DKTBelief
    bkt_belief: BKTBelief
    recommenders: dict[str, Recommender]
    info: dict[str, Any]
    rollout_model: RolloutEnsemble | None = None
    rollout_base: str | None = None

    @property
    def policies(self) -> list[str]:
        return list(self.recommenders)


def _assemble(
    config: TutorConfig,
    curriculum: Curriculum,
    dkt: DKT,
    bkt: BKT,
    dqn: Any,
    gain_model: GainModel | None,
    dkt_belief: DKTBelief,
    info: dict[str, Any],
    rollout_model: RolloutEnsemble | None = None,
    rollout_base: str | None = None,
) -> TutoringModel:
    bkt_belief = BKTBelief.from_model(bkt, curriculum.exercise_skill)
    gains = rollout_values = None
    if gain_model is not None:
        gains = GainEstimate(gain_model, dkt_belief, config.session_length)
    if rollout_model is not None:
        rollout_values = GainEstimate(rollout_model, dkt_belief, config.session_length)
    recommenders = build_recommenders(
        config, curriculum, dkt_belief, bkt_belief, dqn, gains, rollout_values, rollout_base
    )
    return TutoringModel(
        config=config,
        curriculum=curriculum,
        dynamics=make_dynamics(config.dynamics, curriculum),
        dkt=dkt,
        bkt=bkt,
        dqn=dqn,
        gain_model=gain_model,
        dkt_belief=dkt_belief,
        bkt_belief=bkt_belief,
        recommenders=recommenders,
        info=info,
        rollout_model=rollout_model,
        rollout_base=rollout_base,
    )


def _dqn_config(config: TutorConfig) -> DQNTutorConfig:
    return DQNTutorConfig(total_steps=config.dqn_steps, seed=config.seed)


def train_model(config: TutorConfig, say: Callable[[str], None] = print) -> TutoringModel:
    """Simulate logs, fit DKT and BKT on them, train the DQN tutor; say what it does and how long.

    Args:
        config: the settings (``web_config()`` for the default model).
        say: where progress lines go (the server's console).
    """
    if config.tracer != "dkt":
        raise ValueError(
            f"the web tutor saves and serves a DKT; got tracer={config.tracer!r} (the attention "
            "tracers run in scripts/tutor.py --tracer only)"
        )
    curriculum = load_curriculum(config.curriculum)
    dynamics = make_dynamics(config.dynamics, curriculum)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    say(
        f"training the tutoring model: {config.log_students} simulated students x "
        f"{config.session_length} exercises of {curriculum.name!r} ({config.dynamics} dynamics)"
    )
    logs = simulate_logs(
        config.log_students,
        dynamics=dynamics,
        episode_length=config.session_length,
        seed=config.seed,
    )
    tutors = prepare_tutors(config, dynamics, logs, lambda text: say(f"  {text}"))
    models, seconds = tutors.models, dict(tutors.seconds)
    say(
        f"  DKT ({config.dkt_hidden} units, {len(models['tracer'].history.epochs)} epochs), test "
        f"AUC {models['tracer_test_auc']:.3f}; BKT test AUC {models['bkt_test_auc']:.3f}; "
        f"DQN tutor ({config.dqn_steps} student-steps) in {seconds.get('dqn', 0.0):.1f} s; seconds "
        + ", ".join(f"{part} {value:.1f}" for part, value in seconds.items())
    )
    seconds["total"] = time.perf_counter() - start
    info = {
        "dkt_test_auc": models["tracer_test_auc"],
        "bkt_test_auc": models["bkt_test_auc"],
        "dkt_epochs_run": len(models["tracer"].history.epochs),
        "seconds": seconds,
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()),
    }
    return _assemble(config, curriculum, models["tracer"], models["bkt"], tutors.dqn,
                     tutors.gain_model, tutors.tracer_belief, info, tutors.rollout_model,
                     tutors.rollout_base)  # fmt: skip


def save_model(model: TutoringModel, folder: str | os.PathLike) -> Path:
    """Write ``model`` to ``folder``: summary.json (settings, curriculum, figures), the models.

    Returns:
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.dkt.save(folder / "dkt")
    model.bkt.save(folder / "bkt")
    if model.dqn is not None:
        model.dqn.save(folder / "dqn.pt", include_replay=False)
    if model.gain_model is not None:
        model.gain_model.save(folder / "gain.pt")
    if model.rollout_model is not None:
        model.rollout_model.save(folder / "rollout.pt")
    summary = {
        "format": FORMAT,
        "version": VERSION,
        "settings": model.config.to_dict(),
        "curriculum": model.curriculum.to_dict(),
        "dqn_tutor": asdict(_dqn_config(model.config)),
        "rollout_base": model.rollout_base,
        **{key: value for key, value in model.info.items() if key != "folder"},
    }
    # summary.json last: a folder holding it holds a whole model.
    (folder / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    return folder


def _read_summary(folder: Path) -> dict[str, Any]:
    path = folder / SUMMARY_FILE
    if not path.is_file():
        raise ValueError(
            f"{folder} holds no web tutoring model (no {SUMMARY_FILE}); scripts/serve.py without "
            "--model trains one"
        )
    try:
        summary = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(summary, dict) or summary.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not the summary of a web tutoring model (no format {FORMAT!r}); "
            "scripts/serve.py --model reads the folders scripts/serve.py writes"
        )
    if summary.get("version") != VERSION:
        raise ValueError(
            f"{path} has version {summary.get('version')!r}; this code reads version {VERSION}"
        )
    return summary


def load_model(folder: str | os.PathLike) -> TutoringModel:
    """Read a folder written by ``save_model``.

    Raises:
        ValueError: if the folder holds no web tutoring model, or a damaged one.
    """
    folder = Path(folder)
    summary = _read_summary(folder)
    settings = dict(summary["settings"])
    settings["policies"] = tuple(settings["policies"])
    config = TutorConfig(**settings)
    curriculum = load_curriculum(summary["curriculum"])
    dkt, bkt = DKT.load(folder / "dkt"), BKT.load(folder / "bkt")
    dkt_belief = DKTBelief(dkt, curriculum.exercise_skill)
    dqn = None
    if "dqn" in config.policies:
        dqn_settings = DQNTutorConfig(**summary["dqn_tutor"])
        # DQN.load rebuilds the agent around environments like the training ones; they are
        # never stepped here (the tutor only reads q_values).
        inner = StudentVectorEnv(
            dqn_settings.num_envs,
            dynamics=make_dynamics(config.dynamics, curriculum),
            episode_length=config.session_length,
            flatten_observation=False,
        )
        dqn, _ = DQN.load(folder / "dqn.pt", KnowledgeVectorEnv(inner, dkt_belief))
    gain_model = GainModel.load(folder / "gain.pt") if (folder / "gain.pt").is_file() else None
    rollout_model = None
    if "rollout" in config.policies:
        if not (folder / "rollout.pt").is_file() or not summary.get("rollout_base"):
            raise ValueError(
                f"{folder} offers the rollout policy but holds no rollout.pt or rollout_base: a "
                "damaged model; delete the folder and let scripts/serve.py train it again"
            )
        rollout_model = RolloutEnsemble.load(folder / "rollout.pt")
    info = {key: summary[key] for key in ("dkt_test_auc", "bkt_test_auc", "seconds")}
    info["folder"] = str(folder)
    return _assemble(config, curriculum, dkt, bkt, dqn, gain_model, dkt_belief, info,
                     rollout_model, summary.get("rollout_base"))  # fmt: skip


def default_folder(config: TutorConfig, root: str | os.PathLike = "runs/web-model") -> Path:
    """``root/<curriculum name>-<hash>``: one cache folder per curriculum content and settings."""
    curriculum = load_curriculum(config.curriculum)
    settings = {**config.to_dict(), "curriculum": curriculum.to_dict()}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return Path(root) / f"{curriculum.name}-{digest}"


def load_or_train(
    folder: str | os.PathLike, config: TutorConfig, say: Callable[[str], None] = print
) -> TutoringModel:
    """The model in ``folder`` if it was trained with ``config``, else train it and save it there.

    Raises:
        ValueError: if ``folder`` holds a model trained with other settings (it is not replaced).
    """
    folder = Path(folder)
    if (folder / SUMMARY_FILE).is_file():
        saved = _read_summary(folder)
        wanted = {
            **config.to_dict(),
            "curriculum": load_curriculum(config.curriculum).to_dict(),
        }
        found = {**saved["settings"], "curriculum": saved["curriculum"]}
        if found != wanted:
            differ = sorted(key for key in wanted if found.get(key) != wanted[key])
            raise ValueError(
                f"{folder} holds a tutoring model trained with other settings ({differ}); "
                "give another folder or serve it with --model"
            )
        start = time.perf_counter()
        model = load_model(folder)
        say(f"loaded the tutoring model from {folder} in {time.perf_counter() - start:.1f} s")
        return model
    model = train_model(config, say)
    save_model(model, folder)
    model.info["folder"] = str(folder)
    say(
        f"trained in {model.info['seconds']['total']:.1f} s; saved to {folder} "
        "(the next start loads it)"
    )
    return model


def quick_config(curriculum: str = "riley", seed: int = 0) -> TutorConfig:
    """A small model for tests and a first look: trains in 3-5 s on one core.

    Its DKT (test AUC about 0.74 on Riley's curriculum, against 0.78 for ``web_config``) is
    large enough that right answers on a skill raise its estimate of it; ``TutorConfig.quick``'s
    (200 students, 2 epochs; AUC 0.52) was not. Its DQN tutor is barely trained.
    """
    return TutorConfig.quick(
        curriculum=str(curriculum),
        seed=seed,
        policies=PAGE_POLICIES,
        log_students=3000,
        session_length=20,
        dkt_hidden=32,
        dkt_epochs=8,
        dqn_steps=5000,
    )


def exercise_table(curriculum: Curriculum) -> list[dict[str, Any]]:
    """The exercises as plain rows: id, name, skill id and name, difficulty."""
    skills = curriculum.exercise_skill
    return [
        {
            "id": index,
            "name": exercise.name,
            "skill": int(skills[index]),
            "skill_name": exercise.skill,
            "difficulty": float(exercise.difficulty),
        }
        for index, exercise in enumerate(curriculum.exercises)
    ]


def skill_average(curriculum: Curriculum) -> np.ndarray:
    """(n_exercises, n_skills) matrix: per-exercise values @ it = their mean over each skill."""
    average = np.eye(curriculum.n_skills)[curriculum.exercise_skill]
    return average / average.sum(axis=0, keepdims=True)


def model_for_serving(
    model: str | None,
    out: str | None,
    curriculum: str | None,
    seed: int,
    quick: bool = False,
    say: Callable[[str], None] = print,
) -> TutoringModel:
    """The model ``scripts/serve.py`` serves: the saved one at ``model``, else a cached or new one.

    Args:
        model: a folder written by ``save_model`` (None: train or load from the cache).
        out: where a newly trained model is kept (None: ``default_folder``).
        curriculum: ``"riley"`` (None) or a curriculum file; only without ``model``.
        seed: training seed.
        quick: the tiny ``quick_config`` instead of ``web_config``.
        say: where progress lines go.

    Raises:
        ValueError: for contradictory arguments or a folder that holds no model.
    """
    if model is not None:
        if out is not None or curriculum is not None or quick:
            raise ValueError(
                "--model serves a saved model with its own curriculum and settings; "
                "--out, --curriculum and --quick are for training a new one"
            )
        start = time.perf_counter()
        loaded = load_model(model)
        say(f"loaded the tutoring model from {model} in {time.perf_counter() - start:.1f} s")
        return loaded
    curriculum = curriculum or "riley"
    config = quick_config(curriculum, seed) if quick else web_config(curriculum, seed)
    return load_or_train(Path(out) if out else default_folder(config), config, say)
