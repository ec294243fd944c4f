"""The main job end to end: simulate logs, train DKT and BKT, train the DQN tutor, compare policies.

``run_tutor(config, out_dir)`` is what ``scripts/tutor.py`` calls with no ``--logs``: Riley's
curriculum (or a file), a student population (``bkt`` or ``irt`` dynamics), logs of
``log_students`` students under the random policy, DKT (modelling EXERCISES as its items, so
its output is p(correct) per exercise, what ZPD/greedy/expectimax compare) and BKT (per skill)
fitted on 80% of the logged students and scored on the other 20%, the DQN tutor trained on the
DKT's knowledge estimate, and every policy run on ``students`` fresh simulated students with
common random numbers (``kt.tutoring.simulation``). Writes summary.json, comparison.csv,
learning_curves.csv/.png and a knowledge heatmap of one session.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from riley_gym.envs.curriculum import load_curriculum
from riley_gym.envs.simulate import simulate_logs
from riley_gym.envs.student_dynamics import make_dynamics
from riley_gym.kt.data.metrics import binary_metrics
from riley_gym.kt.data.splits import holdout_split
from riley_gym.kt.experiments.fitting import FitPlan, fit_prepared
from riley_gym.kt.experiments.plots import plot_knowledge_heatmap, plot_learning_curves
from riley_gym.kt.models.bkt import BKT
from riley_gym.kt.models.dkt import DKT, DKTConfig
from riley_gym.kt.models.training import TrainingConfig
from riley_gym.kt.tutoring.dqn_tutor import DQNTutor, DQNTutorConfig, train_dqn_tutor
from riley_gym.kt.tutoring.recommend import (
    BKTBelief,
    BlockedRecommender,
    DKTBelief,
    ExpectimaxRecommender,
    GreedyRecommender,
    InterleavedRecommender,
    MasteryRecommender,
    OracleRecommender,
    RandomRecommender,
    Recommender,
    ZPDRecommender,
)
from riley_gym.kt.tutoring.simulation import compare_policies

POLICIES = (
    "random",
    "blocked",
    "interleaved",
    "mastery",
    "zpd",
    "greedy",
    "expectimax",
    "dqn",
    "oracle",
)


@dataclass(frozen=True)
class TutorConfig:
    """Settings of the end-to-end tutoring comparison."""

    curriculum: str = field(
        default="riley", metadata={"help": "curriculum: 'riley' or a JSON/YAML file"}
    )
    dynamics: str = field(default="bkt", metadata={"help": "student dynamics: bkt or irt"})
    students: int = field(
        default=500, metadata={"help": "fresh simulated students tutored per policy"}
    )
    session_length: int = field(default=50, metadata={"help": "exercises per tutoring session"})
    log_students: int = field(
        default=5000, metadata={"help": "students in the simulated logs the models are trained on"}
    )
    policies: tuple[str, ...] = field(
        default=POLICIES, metadata={"help": f"policies to compare, from {POLICIES}"}
    )
    dkt_hidden: int = field(default=64, metadata={"help": "DKT LSTM width"})
    dkt_epochs: int = field(
        default=12,
        metadata={"help": "most DKT epochs (early stopping on 10% of the training students)"},
    )
    expectimax_horizon: int = field(default=2, metadata={"help": "expectimax lookahead depth"})
    expectimax_beam: int = field(
        default=2, metadata={"help": "exercises expanded further per lookahead node"}
    )
    zpd_target: float = field(default=0.7, metadata={"help": "ZPD target p(correct)"})
    mastery_threshold: float = field(
        default=0.95, metadata={"help": "BKT mastery at which the mastery policy moves on"}
    )
    dqn_steps: int = field(default=500_000, metadata={"help": "DQN tutor training student-steps"})
    oracle_samples: int = field(
        default=8, metadata={"help": "Monte Carlo draws per exercise of the oracle's lookahead"}
    )
    seed: int = field(
        default=0, metadata={"help": "seed of logs, models, training and tutored students"}
    )

    def __post_init__(self) -> None:
        if self.dynamics not in ("bkt", "irt"):
            raise ValueError(f"TutorConfig.dynamics must be 'bkt' or 'irt', got {self.dynamics!r}")
        for name in (
            "students",
            "session_length",
            "log_students",
            "dkt_hidden",
            "dkt_epochs",
            "expectimax_horizon",
            "expectimax_beam",
            "dqn_steps",
            "oracle_samples",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"TutorConfig.{name} must be >= 1, got {getattr(self, name)}")
        unknown = sorted(set(self.policies) - set(POLICIES))
        if unknown or "random" not in self.policies:
            raise ValueError(
                f"TutorConfig.policies must include 'random' and come from {POLICIES}; "
                f"unknown: {unknown}"
            )
        if not 0.0 < self.zpd_target < 1.0 or not 0.0 < self.mastery_threshold < 1.0:
            raise ValueError(
                f"TutorConfig: zpd_target and mastery_threshold must be in (0, 1), got "
                f"{self.zpd_target}, {self.mastery_threshold}"
            )

    @classmethod
    def quick(cls, **overrides: Any) -> "TutorConfig":
        """A tiny preset for tests: seconds, not minutes (figures are not meaningful)."""
        settings = dict(
            students=40,
            session_length=12,
            log_students=200,
            dkt_hidden=16,
            dkt_epochs=2,
            dqn_steps=600,
            oracle_samples=2,
        )
        return cls(**{**settings, **overrides})

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["policies"] = list(self.policies)
        return values


def train_models(
    logs: pd.DataFrame, exercise_skill: np.ndarray, hidden: int, epochs: int, seed: int
) -> dict[str, Any]:
    """Fit DKT over exercises and BKT over skills on 80% of the logged students; score on the rest.

    Returns:
        {"dkt", "bkt", "dkt_test_auc", "bkt_test_auc", "dkt_seconds", "bkt_seconds"}.
    """

    train, test = holdout_split(logs, test_fraction=0.2, seed=seed)
    config = DKTConfig(
        input_encoding="one-hot",
        hidden_size=hidden,
        dropout=0.0,
        batch_size=64,
        max_length=200,
        seed=seed,
        training=TrainingConfig(learning_rate=3e-3, max_epochs=epochs, patience=2, seed=seed),
    )
    start = time.perf_counter()
    items = train.assign(skill_id=train["item_id"])  # exercises as the DKT's items
    # early stopping on 10% of the training students
    dkt = fit_prepared(DKT(config), items, None, FitPlan(valid_fraction=0.1, seed=seed)).model
    dkt_seconds = time.perf_counter() - start
    start = time.perf_counter()
    bkt = BKT().fit(train)
    bkt_seconds = time.perf_counter() - start
    dkt_pred = dkt.predict(test.assign(skill_id=test["item_id"]))
    bkt_pred = bkt.predict(test)
    return {
        "dkt": dkt,
        "bkt": bkt,
        "dkt_test_auc": binary_metrics(
            dkt_pred["correct"].to_numpy(), dkt_pred["p_correct"].to_numpy()
        )["auc"],
        "bkt_test_auc": binary_metrics(
            bkt_pred["correct"].to_numpy(), bkt_pred["p_correct"].to_numpy()
        )["auc"],
        "dkt_seconds": dkt_seconds,
        "bkt_seconds": bkt_seconds,
    }


def build_recommenders(
    config: TutorConfig,
    curriculum: Any,
    dkt_belief: Any,
    bkt_belief: BKTBelief,
    dqn_agent: Any = None,
) -> dict[str, Recommender]:
    """The policies named in ``config.policies``, in that order."""

    skill = curriculum.exercise_skill
    names = dict(exercise_names=curriculum.exercise_names, skill_names=curriculum.skill_names)
    order, difficulty = curriculum.topological_order(), curriculum.difficulty
    makers: dict[str, Callable[[], Recommender]] = {
        "random": lambda: RandomRecommender(skill, **names),
        "blocked": lambda: BlockedRecommender(
            skill, max(1, config.session_length // curriculum.n_skills), order, difficulty, **names
        ),
        "interleaved": lambda: InterleavedRecommender(skill, order, difficulty, **names),
        "mastery": lambda: MasteryRecommender(
            bkt_belief, skill, order, config.mastery_threshold, difficulty, **names
        ),
        "zpd": lambda: ZPDRecommender(dkt_belief, skill, config.zpd_target, **names),
        "greedy": lambda: GreedyRecommender(dkt_belief, skill, **names),
        "expectimax": lambda: ExpectimaxRecommender(
            dkt_belief, skill, config.expectimax_horizon, config.expectimax_beam, **names
        ),
        "dqn": lambda: DQNTutor(dqn_agent, dkt_belief, skill, config.session_length, **names),
        "oracle": lambda: OracleRecommender(skill, config.oracle_samples, **names),
    }
    return {name: makers[name]() for name in config.policies}


def knowledge_heatmap(record: Any, curriculum: Any, path: Path) -> tuple[Path, int]:
    """A tutored student's predicted knowledge per skill beside the hidden truth.

    The truth is the mean true p(correct) per skill. The student is the traced one
    (``kt.tutoring.simulation.TRACED_STUDENTS``) with the median learning gain, so the figure shows
    a typical session rather than whoever came first.

    Returns:
        (the path written, the student's index among the tutored students).
    """

    traced = record.true_p_correct_traced.shape[1]
    gains = record.post_test[-1, :traced] - record.post_test[0, :traced]
    student = int(np.argsort(gains, kind="stable")[(traced - 1) // 2])
    average = np.eye(curriculum.n_skills)[curriculum.exercise_skill]  # (n_exercises, n_skills)
    average /= average.sum(axis=0, keepdims=True)
    truth = record.true_p_correct_traced[1:, student] @ average  # (T, n_skills)
    skills = curriculum.exercise_skill[record.exercises[:, student]]
    knowledge = record.knowledge_traced[1:, student]  # (T, n_skills)
    written = plot_knowledge_heatmap(
        curriculum.skill_names,
        skills,
        record.correct[:, student].astype(int),
        knowledge,
        path,
        truth=truth,
    )
    return written, student


MODEL_BASED = ("mastery", "zpd", "greedy", "expectimax", "dqn")


def best_policies(table: pd.DataFrame) -> dict[str, str | None]:
    """The best real policy (oracle excluded) and the best DKT-based/learned one by mean post-test.

    The DKT-based/learned policies are greedy, expectimax, dqn and zpd.
    """
    real = table.drop(index=[name for name in ("oracle",) if name in table.index])
    dkt_based = real.loc[
        [name for name in ("zpd", "greedy", "expectimax", "dqn") if name in real.index]
    ]
    return {
        "best_real_policy": str(real["post_test_mean"].idxmax()) if len(real) else None,
        "best_dkt_or_learned_policy": str(dkt_based["post_test_mean"].idxmax())
        if len(dkt_based)
        else None,
    }


def run_comparison(
    config: TutorConfig,
    dynamics: Any,
    logs: pd.DataFrame,
    out_dir: Path,
    progress: Any = None,
    label: str = "",
) -> dict[str, Any]:
    """Train the models on ``logs``, build the policies, tutor fresh students; write the files.

    The fresh students come from ``dynamics``.


    Returns:
        The summary dict (``policies``: name -> figures; model scores; timings).
    """
    curriculum = dynamics.curriculum
    timings: dict[str, float] = {}
    say = progress.set_description if progress is not None else (lambda text: None)
    say(f"{label}training DKT and BKT")
    start = time.perf_counter()
    models = train_models(
        logs, curriculum.exercise_skill, config.dkt_hidden, config.dkt_epochs, config.seed
    )
    timings["models"] = time.perf_counter() - start
    if progress is not None:
        progress.update(1)
    dkt_belief = DKTBelief(models["dkt"], curriculum.exercise_skill)
    bkt_belief = BKTBelief.from_model(models["bkt"], curriculum.exercise_skill)
    agent = None
    if "dqn" in config.policies:
        say(f"{label}training the DQN tutor")
        start = time.perf_counter()
        agent = train_dqn_tutor(
            dynamics,
            dkt_belief,
            config.session_length,
            DQNTutorConfig(total_steps=config.dqn_steps, seed=config.seed),
        )
        timings["dqn"] = time.perf_counter() - start
    if progress is not None:
        progress.update(1)
    recommenders = build_recommenders(config, curriculum, dkt_belief, bkt_belief, agent)
    start = time.perf_counter()

    started = []

    def on_policy(name: str) -> None:
        if started and progress is not None:
            progress.update(1)  # the previous policy is done
        started.append(name)
        say(f"{label}tutoring with {name}")

    comparison = compare_policies(
        recommenders,
        dynamics,
        config.students,
        config.session_length,
        seed=config.seed + 7919,
        progress=on_policy,
    )
    timings["tutoring"] = time.perf_counter() - start
    timings["per_policy"] = comparison.seconds
    if progress is not None:
        progress.update(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    comparison.table.to_csv(out_dir / "comparison.csv")
    comparison.learning_curves().to_csv(out_dir / "learning_curves.csv", index=False)
    plot_learning_curves(
        comparison,
        out_dir / "learning_curves.png",
        title=f"{curriculum.name} ({dynamics.name} dynamics): mean expected post-test, 95% CI",
    )
    heatmap_policy = next(
        (name for name in ("expectimax", "greedy", "zpd", "dqn") if name in comparison.records),
        None,
    )
    heatmap = heatmap_student = None
    if heatmap_policy is not None:
        heatmap, heatmap_student = knowledge_heatmap(
            comparison.records[heatmap_policy], curriculum, out_dir / "knowledge_heatmap.png"
        )
    paired = comparison.paired_differences()
    return {
        "policies": comparison.to_dict(),
        "paired_differences": paired,
        "best": best_policies(comparison.table),
        "table": comparison.table,
        "dkt_test_auc": models["dkt_test_auc"],
        "bkt_test_auc": models["bkt_test_auc"],
        "dkt_epochs_run": len(models["dkt"].history.epochs),
        "heatmap_policy": heatmap_policy,
        "heatmap": str(heatmap) if heatmap is not None else None,
        "heatmap_student": heatmap_student,
        "seconds": timings,
        "models": models,
        "recommenders": recommenders,
    }


def run_tutor(config: TutorConfig, out_dir: str | Path, progress: Any = None) -> dict[str, Any]:
    """The default run: simulated logs -> models -> DQN tutor -> policy comparison.

    Writes ``out_dir``.

    Returns:
        The summary (also written to ``out_dir/summary.json``), plus ``table`` (a DataFrame, not
        written to JSON).
    """

    out_dir = Path(out_dir)
    start = time.perf_counter()
    dynamics = make_dynamics(config.dynamics, load_curriculum(config.curriculum))
    logs = simulate_logs(
        config.log_students,
        dynamics=dynamics,
        episode_length=config.session_length,
        seed=config.seed,
    )
    result = run_comparison(config, dynamics, logs, out_dir, progress)
    summary = {
        "policies": result["policies"],
        "paired_differences": result["paired_differences"],
        "best": result["best"],
        "dkt_test_auc": result["dkt_test_auc"],
        "bkt_test_auc": result["bkt_test_auc"],
        "dkt_epochs_run": result["dkt_epochs_run"],
        "heatmap_policy": result["heatmap_policy"],
        "heatmap_student": result["heatmap_student"],
        "seconds": {**result["seconds"], "total": time.perf_counter() - start},
        "load_average": list(os.getloadavg()),
        "torch_threads": torch.get_num_threads(),  # float sums, hence figures, depend on it
        "settings": config.to_dict(),
        "dynamics_params": dynamics.params.to_dict(),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return {
        **summary,
        "table": result["table"],
        "models": result["models"],
        "recommenders": result["recommenders"],
        "dynamics": dynamics,
    }


def interactive_recommender(config: TutorConfig, policy: str) -> Recommender:
    """A policy for a person to play against, its models trained on simulated logs.

    The logs are of the configured curriculum. ``mastery`` needs only BKT (a second); ``zpd``,
    ``greedy`` and ``expectimax`` train the DKT first.
    """

    if policy not in ("mastery", "zpd", "greedy", "expectimax"):
        raise ValueError(
            f"interactive_recommender: policy must be mastery, zpd, greedy or expectimax, "
            f"got {policy!r}"
        )
    dynamics = make_dynamics(config.dynamics, load_curriculum(config.curriculum))
    curriculum = dynamics.curriculum
    logs = simulate_logs(
        config.log_students,
        dynamics=dynamics,
        episode_length=config.session_length,
        seed=config.seed,
    )
    bkt_belief = BKTBelief.from_model(BKT().fit(logs), curriculum.exercise_skill)
    dkt_belief = None
    if policy != "mastery":
        models = train_models(
            logs, curriculum.exercise_skill, config.dkt_hidden, config.dkt_epochs, config.seed
        )
        dkt_belief = DKTBelief(models["dkt"], curriculum.exercise_skill)
    single = TutorConfig(**{**asdict(config), "policies": ("random", policy)})
    return build_recommenders(single, curriculum, dkt_belief, bkt_belief)[policy]
