"""The main job end to end: simulate logs, train the knowledge tracers and tutors, compare policies.

``run_tutor(config, out_dir)`` is what ``scripts/tutor.py`` calls with no ``--logs``: a curriculum
(Riley's or a file), a student population (``bkt`` or ``irt`` dynamics), logs of ``log_students``
students under the random policy, and on them (``prepare_tutors``):

- DKT over EXERCISES (its output is p(correct) per exercise, what the lookahead policies read;
  ``tracer`` picks SAKT, AKT or simpleKT instead, read through ``AttentionBelief``)
  and BKT over skills (the mastery rule), fitted on 80% of the logged students and scored on the
  rest;
- the gain model (``kt.tutoring.gain_model``): what practice teaches, learned from the DKT's
  state on simulated sessions, which the greedy and expectimax policies plan with;
- the DQN tutor (``kt.tutoring.dqn_tutor``) on the DKT's knowledge estimate, its learning curve
  measured on validation students.

Then every policy tutors the same ``students`` fresh simulated students with common random
numbers (``kt.tutoring.simulation``), the best policy that uses the LSTM is compared with every
heuristic (paired 95% CIs), each policy gets the fraction of the gap from the best heuristic to
the oracle it closes (``gap_closed``), and the diagnosis of ``kt.experiments.inference_vs_learning``
is measured: what DKT's own lookahead predicts practice does, against the truth and the gain model.
Writes summary.json, comparison.csv, learning_curves.csv/.png, tutor_learning_curve.csv/.png,
inference_vs_learning.png and a knowledge heatmap of one session.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from riley_gym import nets
from riley_gym.envs.curriculum import load_curriculum
from riley_gym.envs.simulate import simulate_logs
from riley_gym.envs.student_dynamics import make_dynamics
from riley_gym.kt.data.metrics import binary_metrics
from riley_gym.kt.data.splits import holdout_split
from riley_gym.kt.experiments.fitting import FitPlan, fit_prepared
from riley_gym.kt.experiments.inference_vs_learning import measure, predicted_gains
from riley_gym.kt.experiments.plots import (
    plot_inference_vs_learning,
    plot_knowledge_heatmap,
    plot_learning_curves,
    plot_tutor_learning_curve,
)
from riley_gym.kt.models.bkt import BKT
from riley_gym.kt.models.dkt import DKT, DKTConfig
from riley_gym.kt.models.registry import MODELS
from riley_gym.kt.models.training import TrainingConfig
from riley_gym.kt.tutoring.attention_belief import AttentionBelief
from riley_gym.kt.tutoring.dqn_tutor import DQNTutor, DQNTutorConfig, train_dqn_tutor
from riley_gym.kt.tutoring.gain_model import (
    FEATURES,
    GainEstimate,
    GainModelConfig,
    train_gain_model,
)
from riley_gym.kt.tutoring.policy_improvement import (
    RolloutModelConfig,
    RolloutRecommender,
    train_rollout_model,
)
from riley_gym.kt.tutoring.recommend import (
    Belief,
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
from riley_gym.kt.tutoring.simulation import Comparison, compare_policies, mean_ci95, run_sessions

HEURISTICS = ("random", "blocked", "interleaved", "mastery", "zpd")
KT_POLICIES = ("greedy", "expectimax", "rollout", "dqn")  # they read the LSTM knowledge tracer
POLICIES = (*HEURISTICS, *KT_POLICIES, "oracle")
TRACERS = ("dkt", "sakt", "akt", "simplekt")
ROLLOUT_BASES = ("random", "blocked", "interleaved", "mastery")  # heuristics a rollout can improve
INTERACTIVE_POLICIES = ("mastery", "zpd", "greedy", "expectimax", "rollout", "dqn")
# Seeds of the student draws, apart from the logs' (config.seed): the validation students of the
# DQN's learning curve and the test students every policy tutors.
VALIDATION_SEED, TEST_SEED = 4049, 7919


@dataclass(frozen=True)
class TutorConfig(nets.Settings):
    """Settings of the end-to-end tutoring comparison."""

    curriculum: str = field(
        default="riley",
        metadata={"help": "curriculum: riley, chain, wide, tree, or a JSON/YAML file"},
    )
    dynamics: str = field(
        default="bkt", metadata={"help": "student dynamics", "choices": ("bkt", "irt")}
    )
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
    tracer: str = field(
        default="dkt",
        metadata={
            "help": "the knowledge tracer over exercises that ZPD, greedy, expectimax, the gain "
            "model and the DQN tutor read: dkt (the LSTM) or an attention model",
            "choices": TRACERS,
        },
    )
    dkt_hidden: int = field(
        default=64, metadata={"help": "the tracer's width (DKT LSTM units; attention d_model)"}
    )
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
    gain_students: int = field(
        default=1000,
        metadata={"help": "simulated students per behaviour policy the gain model learns from"},
    )
    gain_rounds: int = field(
        default=2,
        metadata={"help": "on-policy (DAgger) rounds of the gain model: expectimax's states added"},
    )
    gain_features: str = field(
        default="predictions",
        metadata={
            "help": "what the gain model reads of the tracer: predictions (p(correct) per "
            "exercise) or predictions+state (also DKT's LSTM output)"
        },
    )
    rollout_base: str = field(
        default="best",
        metadata={
            "help": "the heuristic whose rollout values the rollout policy learns and improves "
            "on; best: the one with the best post-test on the validation students",
            "choices": ("best", *ROLLOUT_BASES),
        },
    )
    rollout_margin: float = field(
        default=0.001,
        metadata={
            "help": "the rollout policy keeps the base policy's choice unless another exercise "
            "is valued this much higher, in post-test (0: greedy on the values, ties to the base)"
        },
    )
    rollout_features: str = field(
        default="auto",
        metadata={
            "help": "what the rollout values read of the tracer (as --gain-features); auto: "
            "predictions+state with DKT, predictions with an attention tracer",
            "choices": ("auto", *FEATURES),
        },
    )
    rollout_students: int = field(
        default=500,
        metadata={"help": "simulated students per behaviour policy the rollout values come from"},
    )
    validation_students: int = field(
        default=200, metadata={"help": "students of the DQN tutor's learning curve"}
    )
    curve_points: int = field(
        default=5, metadata={"help": "points of the DQN tutor's learning curve (0: none)"}
    )
    seed: int = field(
        default=0, metadata={"help": "seed of logs, models, training and tutored students"}
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "policies", tuple(self.policies))
        self.check_choice("dynamics", ("bkt", "irt"))
        self.check_choice("tracer", TRACERS)
        self.check_choice("rollout_base", ("best", *ROLLOUT_BASES))
        self.check(
            "rollout_features",
            self.rollout_features in ("auto", *FEATURES)
            and (self.rollout_features != "predictions+state" or self.tracer == "dkt"),
            f"auto or one of {FEATURES} (predictions+state only with --tracer dkt)",
        )
        self.check_interval(["rollout_margin"], 0.0, 1.0)
        self.check_choice("gain_features", FEATURES)
        self.check(
            "gain_features",
            self.gain_features == "predictions" or self.tracer == "dkt",
            "predictions+state reads DKT's LSTM output: only with --tracer dkt",
        )
        names = ["students", "session_length", "log_students", "dkt_hidden", "dkt_epochs"]
        names += ["expectimax_horizon", "expectimax_beam", "dqn_steps", "gain_students"]
        names += ["rollout_students"]
        self.check_at_least([*names, "validation_students"], 1)
        self.check_at_least(["curve_points", "seed", "gain_rounds"], 0)
        unknown = sorted(set(self.policies) - set(POLICIES))
        self.check(
            "policies",
            not unknown and "random" in self.policies,
            f"names from {list(POLICIES)} including random (unknown: {unknown})",
        )
        self.check_interval(["zpd_target", "mastery_threshold"], 0.0, 1.0, True, True)

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
            gain_students=40,
            rollout_students=20,
            validation_students=20,
            curve_points=2,
        )
        return cls(**{**settings, **overrides})


def tracer_model(name: str, hidden: int, epochs: int, seed: int) -> Any:
    """An unfitted knowledge tracer for tutoring: DKT (the LSTM) or an attention model.

    The attention models' settings (4 heads, one block, dropout 0.1, lr 1e-3) are the smallest
    ones of ``kt.models.attention_tracer`` at the DKT's width; they were not tuned on tutoring.
    """
    training = dict(max_epochs=epochs, patience=2, seed=seed)
    if name == "dkt":
        return DKT(
            DKTConfig(
                input_encoding="one-hot", hidden_size=hidden, dropout=0.0, batch_size=64,
                max_length=200, seed=seed,
                training=TrainingConfig(learning_rate=3e-3, **training),
            )
        )  # fmt: skip
    model_class = MODELS[name]
    heads = 4 if hidden % 4 == 0 else 1
    return model_class(
        model_class.config_class(
            embedding_size=hidden, n_heads=heads, n_blocks=1, d_ff=hidden, hidden_size=hidden,
            dropout=0.1, questions="skills", batch_size=64, max_length=200, seed=seed,
            training=TrainingConfig(learning_rate=1e-3, **training),
        )
    )  # fmt: skip


def belief_of(model: Any, exercise_skill: np.ndarray) -> Belief:
    """The belief the model-based tutors read: ``DKTBelief`` or ``AttentionBelief``."""
    if isinstance(model, DKT):
        return DKTBelief(model, exercise_skill)
    return AttentionBelief(model, exercise_skill)


def train_models(
    logs: pd.DataFrame,
    exercise_skill: np.ndarray,
    hidden: int,
    epochs: int,
    seed: int,
    tracer: str = "dkt",
) -> dict[str, Any]:
    """Fit the tracer over exercises and BKT over skills on 80% of the logged students; score
    on the rest.

    Returns:
        {"tracer" (the fitted model), "tracer_name", "bkt", "tracer_test_auc", "bkt_test_auc",
        "tracer_seconds", "bkt_seconds"}.
    """
    train, test = holdout_split(logs, test_fraction=0.2, seed=seed)
    start = time.perf_counter()
    items = train.assign(skill_id=train["item_id"])  # exercises as the tracer's items
    # early stopping on 10% of the training students
    plan = FitPlan(valid_fraction=0.1, seed=seed)
    model = fit_prepared(tracer_model(tracer, hidden, epochs, seed), items, None, plan).model
    tracer_seconds = time.perf_counter() - start
    start = time.perf_counter()
    bkt = BKT().fit(train)
    bkt_seconds = time.perf_counter() - start
    tracer_pred = model.predict(test.assign(skill_id=test["item_id"]))
    bkt_pred = bkt.predict(test)
    return {
        "tracer": model,
        "tracer_name": tracer,
        "bkt": bkt,
        "tracer_test_auc": binary_metrics(tracer_pred["correct"], tracer_pred["p_correct"])["auc"],
        "bkt_test_auc": binary_metrics(bkt_pred["correct"], bkt_pred["p_correct"])["auc"],
        "tracer_seconds": tracer_seconds,
        "bkt_seconds": bkt_seconds,
    }


def build_recommenders(
    config: TutorConfig,
    curriculum: Any,
    tracer_belief: Any,
    bkt_belief: BKTBelief,
    dqn_agent: Any = None,
    gains: Any = None,
    rollout_values: Any = None,
    rollout_base: str | None = None,
) -> dict[str, Recommender]:
    """The policies named in ``config.policies``, in that order.

    ``gains`` (a ``GainEstimate``) is what greedy and expectimax plan with; without it they use
    the DKT paper's objective (the predicted mean p(correct)), kept for the diagnosis. "rollout"
    needs ``rollout_values`` (over ``train_rollout_model``'s networks) and ``rollout_base``, the
    heuristic they are the values of; it has no fallback.
    """
    skill = curriculum.exercise_skill
    names = dict(exercise_names=curriculum.exercise_names, skill_names=curriculum.skill_names)
    order, difficulty = curriculum.topological_order(), curriculum.difficulty
    horizon, beam = config.expectimax_horizon, config.expectimax_beam
    run_length = max(1, config.session_length // curriculum.n_skills)

    def rollout_policy() -> Recommender:
        if rollout_values is None or rollout_base is None:
            raise ValueError(
                "build_recommenders: 'rollout' needs rollout_values and rollout_base "
                "(train_rollout_model's networks and the heuristic they are the values of)"
            )
        base = makers[rollout_base]()
        return RolloutRecommender(
            tracer_belief, skill, rollout_values, base, config.rollout_margin, **names
        )

    makers: dict[str, Callable[[], Recommender]] = {
        "random": lambda: RandomRecommender(skill, **names),
        "blocked": lambda: BlockedRecommender(skill, run_length, order, difficulty, **names),
        "interleaved": lambda: InterleavedRecommender(skill, order, difficulty, **names),
        "mastery": lambda: MasteryRecommender(
            bkt_belief, skill, order, config.mastery_threshold, difficulty, **names
        ),
        "zpd": lambda: ZPDRecommender(tracer_belief, skill, config.zpd_target, **names),
        "greedy": lambda: GreedyRecommender(tracer_belief, skill, gains=gains, **names),
        "expectimax": lambda: ExpectimaxRecommender(
            tracer_belief, skill, horizon, beam, gains=gains, **names
        ),
        "rollout": rollout_policy,
        "dqn": lambda: DQNTutor(dqn_agent, tracer_belief, skill, config.session_length, **names),
        "oracle": lambda: OracleRecommender(skill, **names),
    }
    return {name: makers[name]() for name in config.policies}


@dataclass
class Tutors:
    """What ``prepare_tutors`` trained: models, beliefs, the gain model, the DQN, the policies.

    Attributes:
        models: ``train_models``'s dict (the tracer, BKT and their held-out AUCs).
        tracer_belief, bkt_belief: the tracer (DKT by default) read one attempt at a time; the
            BKT posterior.
        gain_model: the ``GainModel`` (None when no policy needs it).
        gains: ``gain_model`` read through the DKT belief (None likewise).
        dqn: the trained ``agents.DQN`` (None when "dqn" is not among the policies).
        curve: the DQN tutor's learning curve: {"steps", "post_test", "heuristics"} (validation).
        recommenders: policy name -> recommender, in ``config.policies`` order.
        seconds: training time per part.
        rollout_model: the networks of the rollout policy's values (None without "rollout").
        rollout_base: the heuristic the rollout policy improves on (``config.rollout_base``,
            "best" resolved on the validation students; None without "rollout").
    """

    models: dict[str, Any]
    tracer_belief: Belief
    bkt_belief: BKTBelief
    gain_model: Any
    gains: Any
    dqn: Any
    curve: dict[str, Any]
    recommenders: dict[str, Recommender]
    seconds: dict[str, float]
    rollout_model: Any = None
    rollout_base: str | None = None


def prepare_tutors(
    config: TutorConfig, dynamics: Any, logs: pd.DataFrame, say: Callable[[str], None]
) -> Tutors:
    """Fit DKT and BKT on ``logs``, the gain model and DQN tutor on ``dynamics``; build policies.

    Args:
        config: the settings.
        dynamics: the simulator the tutors train on (and the oracle reads).
        logs: the logged students the knowledge tracers fit.
        say: receives a line before each part (a progress bar's description).
    """
    curriculum, length = dynamics.curriculum, config.session_length
    seconds: dict[str, float] = {}
    say(f"training {config.tracer.upper()} and BKT")
    start = time.perf_counter()
    models = train_models(
        logs, curriculum.exercise_skill, config.dkt_hidden, config.dkt_epochs, config.seed,
        config.tracer,
    )  # fmt: skip
    seconds["models"] = time.perf_counter() - start
    tracer_belief = belief_of(models["tracer"], curriculum.exercise_skill)
    bkt_belief = BKTBelief.from_model(models["bkt"], curriculum.exercise_skill)
    heuristic_config = TutorConfig(
        **{**config.to_dict(), "policies": ("random", "blocked", "interleaved", "mastery")}
    )
    heuristics = build_recommenders(heuristic_config, curriculum, tracer_belief, bkt_belief)
    gain_model = gains = None
    if {"greedy", "expectimax"} & set(config.policies):
        say("training the gain model")
        start = time.perf_counter()
        gain_config = GainModelConfig(
            students=config.gain_students,
            seed=config.seed,
            on_policy_rounds=config.gain_rounds,
            features=config.gain_features,
        )

        # The rounds' planner is expectimax: on tree (irt) its states lifted greedy (0.527 ->
        # 0.577) and expectimax (0.529 -> 0.591) more than greedy's own did (0.552, 0.531).
        def expectimax_on(estimate: GainEstimate) -> Recommender:
            horizon, beam = config.expectimax_horizon, config.expectimax_beam
            skill = curriculum.exercise_skill
            return ExpectimaxRecommender(tracer_belief, skill, horizon, beam, gains=estimate)

        gain_model = train_gain_model(
            dynamics, tracer_belief, list(heuristics.values()), length, gain_config, expectimax_on
        )
        gains = GainEstimate(gain_model, tracer_belief, length)
        seconds["gain_model"] = time.perf_counter() - start
    rollout = "rollout" in config.policies
    validation: dict[str, float] = {}
    if "dqn" in config.policies or (rollout and config.rollout_base == "best"):
        validation = {
            name: _mean_post_test(policy, dynamics, config) for name, policy in heuristics.items()
        }
    rollout_model = rollout_values = rollout_base = None
    if rollout:
        rollout_base = config.rollout_base
        if rollout_base == "best":  # chosen on the validation students, never the test students
            rollout_base = max(ROLLOUT_BASES, key=validation.__getitem__)
        say(f"measuring {rollout_base}'s rollout values")
        start = time.perf_counter()
        features = config.rollout_features
        if features == "auto":  # an attention belief has no representation to read
            features = "predictions+state" if config.tracer == "dkt" else "predictions"
        rollout_config = RolloutModelConfig(
            students=config.rollout_students, seed=config.seed, features=features,
            margin=config.rollout_margin,
        )  # fmt: skip
        rollout_model = train_rollout_model(
            dynamics, tracer_belief, list(heuristics.values()), heuristics[rollout_base],
            length, rollout_config,
        )  # fmt: skip
        rollout_values = GainEstimate(rollout_model, tracer_belief, length)
        seconds["rollout_model"] = time.perf_counter() - start
    dqn, curve = None, {}
    if "dqn" in config.policies:
        say("training the DQN tutor")
        start = time.perf_counter()
        steps, post_test = [], []

        def evaluate(agent: Any, env_steps: int) -> None:
            tutor = DQNTutor(agent, tracer_belief, curriculum.exercise_skill, length)
            steps.append(int(env_steps))
            post_test.append(_mean_post_test(tutor, dynamics, config))

        dqn_config = DQNTutorConfig(total_steps=config.dqn_steps, seed=config.seed)
        dqn = train_dqn_tutor(
            dynamics, tracer_belief, length, dqn_config, config.curve_points, evaluate
        )
        curve = {"steps": steps, "post_test": post_test, "heuristics": validation}
        seconds["dqn"] = time.perf_counter() - start
    recommenders = build_recommenders(
        config, curriculum, tracer_belief, bkt_belief, dqn, gains, rollout_values, rollout_base
    )
    return Tutors(models, tracer_belief, bkt_belief, gain_model, gains, dqn, curve, recommenders,
                  seconds, rollout_model, rollout_base)  # fmt: skip


def _mean_post_test(policy: Recommender, dynamics: Any, config: TutorConfig) -> float:
    """Mean final post-test of ``policy`` on the validation students (not the test students)."""
    record = run_sessions(
        policy, dynamics, config.validation_students, config.session_length,
        seed=config.seed + VALIDATION_SEED,
    )  # fmt: skip
    return float(record.final.mean())


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
    exercises = record.exercises[:, student]
    knowledge = record.knowledge_traced[1:, student]  # (T, n_skills)
    written = plot_knowledge_heatmap(
        curriculum.skill_names,
        curriculum.exercise_skill[exercises],
        record.correct[:, student].astype(int),
        knowledge,
        path,
        truth=truth,
        labels=[curriculum.exercise_names[e] for e in exercises],
    )
    return written, student


def verdicts(comparison: Comparison) -> dict[str, Any]:
    """The best heuristic, the best LSTM-based policy, and how they compare.

    Returns:
        {"best_heuristic", "best_kt_policy", "gap_closed" (policy -> fraction of the gap from
        the best heuristic to the oracle it closes, None without an oracle), "kt_vs_heuristics"
        (heuristic -> {"diff", "ci95", "better"}: the best KT policy minus the heuristic, paired),
        "beats_every_heuristic", "below_random" (KT policies whose paired CI against random lies
        wholly below 0)}.
    """
    means = comparison.table["post_test_mean"]
    heuristics = [name for name in HEURISTICS if name in means.index]
    kt = [name for name in KT_POLICIES if name in means.index]
    best_heuristic = str(means[heuristics].idxmax())
    best_kt = str(means[kt].idxmax()) if kt else None
    oracle = means.get("oracle")
    gap = None if oracle is None else oracle - means[best_heuristic]
    gap_closed = {
        name: (
            None if gap is None or gap <= 0 else float((means[name] - means[best_heuristic]) / gap)
        )
        for name in means.index
    }
    records = comparison.records
    versus = {}
    if best_kt is not None:
        for name in heuristics:
            diff, half = mean_ci95(records[best_kt].final - records[name].final)
            versus[name] = {"diff": diff, "ci95": half, "better": bool(diff - half > 0)}
    below = []
    for name in kt:
        diff, half = mean_ci95(records[name].final - records["random"].final)
        if diff + half < 0:
            below.append(name)
    return {
        "best_heuristic": best_heuristic,
        "best_kt_policy": best_kt,
        "gap_closed": gap_closed,
        "kt_vs_heuristics": versus,
        "beats_every_heuristic": bool(versus) and all(row["better"] for row in versus.values()),
        "below_random": below,
    }


def diagnose(config: TutorConfig, dynamics: Any, tutors: Tutors, out_dir: Path) -> dict[str, Any]:
    """Predicted against true learning gains (DKT's own lookahead, BKT, the gain model), plotted.

    Also tutors the test students with greedy on the DKT paper's objective (the fix's "before").
    """
    curriculum, length = dynamics.curriculum, config.session_length
    random = RandomRecommender(curriculum.exercise_skill)
    n, seed = min(300, config.students), config.seed + VALIDATION_SEED
    tracer, belief = config.tracer.upper(), tutors.tracer_belief
    measured = [
        measure(f"{tracer} (its own lookahead)", lambda s, t: predicted_gains(belief, s), belief,
                dynamics, random, n, length, seed),
        measure("BKT", lambda s, t: predicted_gains(tutors.bkt_belief, s), tutors.bkt_belief,
                dynamics, random, n, length, seed),
    ]  # fmt: skip
    if tutors.gains is not None:
        gains = tutors.gains
        measured.append(
            measure(f"gain model on {tracer}", gains, belief, dynamics, random, n, length, seed)
        )
    plot_inference_vs_learning(
        measured, curriculum.exercise_names, out_dir / "inference_vs_learning.png"
    )
    paper_greedy = GreedyRecommender(belief, curriculum.exercise_skill)
    record = run_sessions(paper_greedy, dynamics, config.students, length, config.seed + TEST_SEED)
    return {
        "measurements": [m.to_dict() for m in measured],
        "greedy_on_dkt_objective_post_test": float(record.final.mean()),
        "plot": str(out_dir / "inference_vs_learning.png"),
    }


def run_comparison(
    config: TutorConfig,
    dynamics: Any,
    logs: pd.DataFrame,
    out_dir: Path,
    progress: Any = None,
    label: str = "",
) -> dict[str, Any]:
    """Train tutors on ``logs`` and ``dynamics``, tutor fresh students of ``dynamics``; write files.

    Returns:
        The summary dict (``policies``: name -> figures with ``gap_closed``; the verdicts; the
        diagnosis; model scores; timings), plus ``table``, ``models`` and ``recommenders``.
    """
    curriculum = dynamics.curriculum
    say = progress.set_description if progress is not None else (lambda text: None)
    tutors = prepare_tutors(config, dynamics, logs, lambda text: say(f"{label}{text}"))
    if progress is not None:
        progress.update(2)
    started = []

    def on_policy(name: str) -> None:
        if started and progress is not None:
            progress.update(1)  # the previous policy is done
        started.append(name)
        say(f"{label}tutoring with {name}")

    start = time.perf_counter()
    comparison = compare_policies(
        tutors.recommenders, dynamics, config.students, config.session_length,
        seed=config.seed + TEST_SEED, progress=on_policy,
    )  # fmt: skip
    timings = {**tutors.seconds, "tutoring": time.perf_counter() - start}
    timings["per_policy"] = comparison.seconds
    if progress is not None:
        progress.update(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    judged = verdicts(comparison)
    table = comparison.table.assign(gap_closed=pd.Series(judged["gap_closed"]))
    table.to_csv(out_dir / "comparison.csv")
    comparison.learning_curves().to_csv(out_dir / "learning_curves.csv", index=False)
    title = f"{curriculum.name} ({dynamics.name} dynamics): mean expected post-test, 95% CI"
    plot_learning_curves(comparison, out_dir / "learning_curves.png", title=title)
    if tutors.curve:
        pd.DataFrame(
            {"steps": tutors.curve["steps"], "post_test": tutors.curve["post_test"]}
        ).to_csv(out_dir / "tutor_learning_curve.csv", index=False)
        plot_tutor_learning_curve(tutors.curve, out_dir / "tutor_learning_curve.png", title=title)
    say(f"{label}measuring inference against learning")
    start = time.perf_counter()
    diagnosis = diagnose(config, dynamics, tutors, out_dir)
    timings["diagnosis"] = time.perf_counter() - start
    heatmap_policy = next(
        (name for name in (judged["best_kt_policy"], "dqn", "expectimax", "greedy", "zpd")
         if name in comparison.records), None,
    )  # fmt: skip
    heatmap = heatmap_student = None
    if heatmap_policy is not None:
        heatmap, heatmap_student = knowledge_heatmap(
            comparison.records[heatmap_policy], curriculum, out_dir / "knowledge_heatmap.png"
        )
    is_dkt, epochs_run = config.tracer == "dkt", len(tutors.models["tracer"].history.epochs)
    policies = comparison.to_dict()
    for name in policies:
        policies[name]["gap_closed"] = judged["gap_closed"][name]
    return {
        "policies": policies,
        "paired_differences": comparison.paired_differences(baselines=(*HEURISTICS, "oracle")),
        "verdicts": judged,
        "diagnosis": diagnosis,
        "tutor_learning_curve": tutors.curve,
        "table": table,
        "tracer": config.tracer,
        "tracer_test_auc": tutors.models["tracer_test_auc"],
        "tracer_epochs_run": epochs_run,
        # The names of stored runs and the web page, for the default tracer.
        "dkt_test_auc": tutors.models["tracer_test_auc"] if is_dkt else None,
        "dkt_epochs_run": epochs_run if is_dkt else None,
        "bkt_test_auc": tutors.models["bkt_test_auc"],
        "gain_model_mse": None if tutors.gain_model is None else tutors.gain_model.history[-1],
        "rollout_base": tutors.rollout_base,
        "heatmap_policy": heatmap_policy,
        "heatmap": str(heatmap) if heatmap is not None else None,
        "heatmap_student": heatmap_student,
        "seconds": timings,
        "models": tutors.models,
        "recommenders": tutors.recommenders,
    }


SUMMARY_KEYS = ("policies", "paired_differences", "verdicts", "diagnosis", "tutor_learning_curve",
                "tracer", "tracer_test_auc", "tracer_epochs_run", "dkt_test_auc", "bkt_test_auc",
                "dkt_epochs_run", "gain_model_mse", "rollout_base",
                "heatmap_policy", "heatmap_student")  # fmt: skip


def run_tutor(config: TutorConfig, out_dir: str | Path, progress: Any = None) -> dict[str, Any]:
    """The default run: simulated logs -> models -> tutors -> policy comparison. Writes ``out_dir``.

    Returns:
        The summary (also written to ``out_dir/summary.json``), plus ``table`` (a DataFrame, not
        written to JSON), ``models``, ``recommenders`` and ``dynamics``.
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
        **{key: result[key] for key in SUMMARY_KEYS},
        "seconds": {**result["seconds"], "total": time.perf_counter() - start},
        "load_average": list(os.getloadavg()),
        "torch_threads": torch.get_num_threads(),  # float sums, hence figures, depend on it
        "settings": config.to_dict(),
        "dynamics_params": dynamics.params.to_dict(),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    extras = {key: result[key] for key in ("table", "models", "recommenders")}
    return {**summary, **extras, "dynamics": dynamics}


def interactive_recommender(
    config: TutorConfig, policy: str, say: Callable[[str], None] = print
) -> Recommender:
    """A policy for a person to play against, its models trained on simulated logs of a curriculum.

    ``mastery`` needs only BKT (a second); ``zpd`` trains the DKT first, ``greedy`` and
    ``expectimax`` also the gain model, ``rollout`` the rollout values of the best heuristic,
    ``dqn`` the DQN tutor; ``say`` hears what is trained and how long it took.
    """
    if policy not in INTERACTIVE_POLICIES:
        raise ValueError(
            f"interactive_recommender: policy must be one of {INTERACTIVE_POLICIES}, "
            f"got {policy!r}"
        )
    dynamics = make_dynamics(config.dynamics, load_curriculum(config.curriculum))
    logs = simulate_logs(
        config.log_students, dynamics=dynamics, episode_length=config.session_length,
        seed=config.seed,
    )  # fmt: skip
    single = TutorConfig(**{**config.to_dict(), "policies": ("random", policy), "curve_points": 0})
    started = time.perf_counter()

    def timed(text: str) -> None:
        say(f"  {text} ({time.perf_counter() - started:.0f} s so far)")

    return prepare_tutors(single, dynamics, logs, timed).recommenders[policy]
