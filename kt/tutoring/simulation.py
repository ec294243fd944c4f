"""Simulated tutoring sessions: run recommenders on a simulated student population and compare them.

Every policy tutors the SAME students with the SAME random numbers (common random numbers):
the students are drawn from one seed, the simulator's answer/learning draws come from a second
seed (the dynamics draw a fixed count per step, so student i at step t sees the same uniforms
under every policy), and the policies' own randomness from a third. Differences between
policies are therefore paired per student, and their confidence intervals are those of the mean
per-student difference, much tighter than comparing two independent means.

Reported per policy: the expected post-test after the session (mean over exercises of the TRUE
p(correct), from the hidden state), the gain over the pre-test (the same score before the
session), the steps until every skill is mastered (hidden truth: first step after which the
simulator's mastery of every skill is at least ``mastery_threshold``), the fraction of students
who got there, and the difference from random. Steps to mastery are censored at the session
length: a student who never masters every skill counts as ``session_length`` (so the mean is a
restricted mean, a lower bound of the true mean time), and ``mastered_fraction`` says how many
were censored.

Confidence intervals are 95% Student-t intervals of a mean, t quantile from the Cornish-Fisher
expansion (accurate to 1e-3 for df >= 5).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TextIO

import numpy as np
import pandas as pd

from riley_gym.kt.tutoring.recommend import Recommender, Session

Z_975 = 1.959963984540054
TRACED_STUDENTS = (
    8  # students whose whole trajectory (hidden truth and belief) is kept, for heatmaps
)


def t_quantile_975(df: int) -> float:
    """97.5% quantile of Student's t with ``df`` degrees of freedom (Cornish-Fisher, 3 terms)."""
    if df < 1:
        raise ValueError(f"t_quantile_975: df must be >= 1, got {df}")
    z = Z_975
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def mean_ci95(values: Any) -> tuple[float, float]:
    """(mean, half-width of the 95% t interval) of a sample; the half-width is nan for one value.

    Raises:
        ValueError: for an empty sample or non-finite values.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError(
            f"mean_ci95 needs a non-empty sample of finite numbers, got {values.size} values"
        )
    if values.size == 1:
        return float(values[0]), float("nan")
    half = t_quantile_975(values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    return float(values.mean()), float(half)


class SimulatedClass:
    """The hidden side of a tutoring session: dynamics, the students' state and the answer stream.

    The oracle reads it through ``expected_post_test_after``; nothing else should.
    """

    def __init__(self, dynamics: Any, n_students: int, seed: int) -> None:
        self.dynamics = dynamics
        self.state = dynamics.init_state(n_students, np.random.default_rng([seed, 0]))
        self.answer_rng = np.random.default_rng([seed, 1])

    def step(self, exercises: np.ndarray) -> np.ndarray:
        """(n,) bool answers; the students learn (state changes in place)."""
        return self.dynamics.step(self.state, exercises, self.answer_rng)

    def expected_post_test_after(self) -> np.ndarray:
        """(n, n_exercises) the true expected post-test after one more exercise (exact).

        The simulator's ``expected_gains`` of the hidden state, added to the post-test now.
        """
        gains = self.dynamics.expected_gains(self.state)  # (n, E)
        return self.dynamics.post_test(self.state)[:, None] + gains

    def state_size(self) -> int:
        return int(self.state.n_students)


def take_state(state: Any, rows: np.ndarray) -> Any:
    """A copy of the rows ``rows`` of a dynamics state dataclass.

    Every field of the state has a leading student axis.
    """
    return type(state)(
        **{f.name: getattr(state, f.name)[rows].copy() for f in dataclasses.fields(state)}
    )


@dataclass
class SessionRecord:
    """What happened to every student under one policy.

    Attributes:
        post_test: (n_steps + 1, n) the true expected post-test before the session and after each
            step.
        steps_to_mastery: (n,) first step count after which all skills were mastered (censored:
            session length).
        mastered: (n,) bool, whether all skills were mastered at some step.
        exercises, correct: (n_steps, n) the exercises done and the answers.
        true_mastery_traced: (n_steps + 1, k, n_skills) the hidden mastery of the first k students
            (k <= 8).
        true_p_correct_traced: (n_steps + 1, k, n_exercises) their hidden p(correct).
        knowledge_traced: (n_steps + 1, k, n_skills) or None, the policy's belief about them per
            skill.
    """

    post_test: np.ndarray
    steps_to_mastery: np.ndarray
    mastered: np.ndarray
    exercises: np.ndarray
    correct: np.ndarray
    true_mastery_traced: np.ndarray
    true_p_correct_traced: np.ndarray
    knowledge_traced: np.ndarray | None

    @property
    def pre_test(self) -> np.ndarray:
        return self.post_test[0]

    @property
    def final(self) -> np.ndarray:
        return self.post_test[-1]


def mastery_threshold_of(dynamics: Any) -> float:
    """The mastery level at which a skill counts as learned: the IRT params' threshold, else 0.5.

    BKT mastery is 0/1.
    """
    return float(getattr(dynamics.params, "mastery_threshold", 0.5))


def run_sessions(
    recommender: Recommender,
    dynamics: Any,
    n_students: int,
    session_length: int,
    seed: int = 0,
    mastery_threshold: float | None = None,
) -> SessionRecord:
    """Tutor ``n_students`` fresh simulated students for ``session_length`` steps with one policy.

    Args:
        recommender: the policy.
        dynamics: an ``envs.student_dynamics.StudentDynamics`` (the hidden simulator).
        n_students: students (the same ones for every policy given the same seed).
        session_length: exercises per student.
        seed: seeds students, answers and policy randomness (common random numbers across policies).
        mastery_threshold: mastery level per skill counted as learned (default
            ``mastery_threshold_of``).

    Returns:
        The ``SessionRecord``.
    """
    if session_length < 1 or n_students < 1:
        raise ValueError(
            f"run_sessions: n_students and session_length must be >= 1, got {n_students}, "
            f"{session_length}"
        )
    if recommender.n_exercises != dynamics.n_exercises:
        raise ValueError(
            f"run_sessions: the recommender has {recommender.n_exercises} exercises, "
            f"the simulator {dynamics.n_exercises}"
        )
    threshold = mastery_threshold_of(dynamics) if mastery_threshold is None else mastery_threshold
    simulated = SimulatedClass(dynamics, n_students, seed)
    session: Session = recommender.start(
        n_students, np.random.default_rng([seed, 2]), simulator=simulated
    )
    post_test = np.empty((session_length + 1, n_students))
    post_test[0] = dynamics.post_test(simulated.state)
    mastery = dynamics.mastery(simulated.state)
    mastered = (mastery >= threshold).all(axis=1)
    steps_to_mastery = np.where(mastered, 0, session_length)
    traced = slice(0, min(TRACED_STUDENTS, n_students))
    true_mastery = [mastery[traced].copy()]
    true_p = [dynamics.p_correct(simulated.state)[traced].copy()]
    has_belief = hasattr(session, "skill_knowledge")
    knowledge = [session.skill_knowledge()[traced].copy()] if has_belief else None
    exercises = np.empty((session_length, n_students), dtype=np.int64)
    correct = np.empty((session_length, n_students), dtype=bool)
    for t in range(session_length):
        exercises[t] = session.choose()
        correct[t] = simulated.step(exercises[t])
        session.observe(exercises[t], correct[t])
        post_test[t + 1] = dynamics.post_test(simulated.state)
        mastery = dynamics.mastery(simulated.state)
        now = (mastery >= threshold).all(axis=1)
        steps_to_mastery = np.where(now & ~mastered, t + 1, steps_to_mastery)
        mastered |= now
        true_mastery.append(mastery[traced].copy())
        true_p.append(dynamics.p_correct(simulated.state)[traced].copy())
        if has_belief:
            knowledge.append(session.skill_knowledge()[traced].copy())
    return SessionRecord(
        post_test=post_test,
        steps_to_mastery=steps_to_mastery,
        mastered=mastered,
        exercises=exercises,
        correct=correct,
        true_mastery_traced=np.array(true_mastery),
        true_p_correct_traced=np.array(true_p),
        knowledge_traced=np.array(knowledge) if has_belief else None,
    )


@dataclass
class Comparison:
    """Policies run on the same students: their records, the summary table and learning curves."""

    records: dict[str, SessionRecord]
    baseline: str
    seconds: dict[str, float] = field(default_factory=dict)
    table: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.table = summarise(self.records, self.baseline)

    def to_dict(self) -> dict[str, dict[str, float]]:
        """policy name -> headline figures (JSON-able)."""
        return {
            name: {key: _plain(value) for key, value in row.items()}
            for name, row in self.table.to_dict(orient="index").items()
        }

    def paired_differences(
        self, baselines: tuple[str, ...] = ("random", "blocked", "interleaved", "oracle")
    ) -> dict[str, dict[str, dict[str, float]]]:
        """policy -> baseline -> {"diff", "ci95"}: mean per-student post-test difference, paired.

        The difference is policy - baseline.
        """
        present = [b for b in baselines if b in self.records]
        result = {}
        for name, record in self.records.items():
            result[name] = {}
            for baseline in present:
                diff, half = mean_ci95(record.final - self.records[baseline].final)
                result[name][baseline] = {"diff": diff, "ci95": _plain(half)}
        return result

    def learning_curves(self) -> pd.DataFrame:
        """Long table: policy, step, post_test_mean, ci95."""
        rows = []
        for name, record in self.records.items():
            mean = record.post_test.mean(axis=1)
            half = (
                t_quantile_975(record.post_test.shape[1] - 1)
                * record.post_test.std(axis=1, ddof=1)
                / math.sqrt(record.post_test.shape[1])
                if record.post_test.shape[1] > 1
                else np.full(mean.shape, np.nan)
            )
            rows.append(
                pd.DataFrame(
                    {
                        "policy": name,
                        "step": np.arange(mean.size),
                        "post_test_mean": mean,
                        "ci95": half,
                    }
                )
            )
        return pd.concat(rows, ignore_index=True)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


def summarise(records: Mapping[str, SessionRecord], baseline: str = "random") -> pd.DataFrame:
    """One row per policy: post-test mean and CI, gain, steps to mastery, difference from baseline.

    The difference from ``baseline`` comes with its paired CI.

    Raises:
        ValueError: if ``baseline`` is not among the records or the records differ in students.
    """
    if baseline not in records:
        raise ValueError(f"summarise: baseline policy {baseline!r} is not among {list(records)}")
    base = records[baseline].final
    rows = {}
    for name, record in records.items():
        if record.final.shape != base.shape:
            raise ValueError(
                f"summarise: policy {name!r} tutored {record.final.size} students, "
                f"{baseline!r} {base.size}"
            )
        post_mean, post_half = mean_ci95(record.final)
        gain_mean, gain_half = mean_ci95(record.final - record.pre_test)
        steps_mean, steps_half = mean_ci95(record.steps_to_mastery)
        diff_mean, diff_half = mean_ci95(record.final - base)
        rows[name] = {
            "post_test_mean": post_mean,
            "post_test_ci95": post_half,
            "gain_mean": gain_mean,
            "gain_ci95": gain_half,
            "steps_to_mastery_mean": steps_mean,
            "steps_to_mastery_ci95": steps_half,
            "mastered_fraction": float(record.mastered.mean()),
            "diff_vs_random": diff_mean,
            "diff_ci95": diff_half,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "policy"
    return table


def compare_policies(
    recommenders: Mapping[str, Recommender],
    dynamics: Any,
    n_students: int,
    session_length: int,
    seed: int = 0,
    baseline: str = "random",
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Run every policy on the same students (common random numbers) and summarise.

    Args:
        recommenders: name -> policy; must include ``baseline``.
        dynamics: the simulator.
        n_students, session_length, seed: as ``run_sessions``.
        baseline: the policy differences are taken from.
        progress: called with each policy's name before it runs (e.g. a progress bar's update).

    Returns:
        The ``Comparison``.
    """
    if baseline not in recommenders:
        raise ValueError(
            f"compare_policies: the baseline {baseline!r} must be one of the policies "
            f"{list(recommenders)}"
        )
    records, seconds = {}, {}
    for name, recommender in recommenders.items():
        if progress is not None:
            progress(name)
        start = time.perf_counter()
        records[name] = run_sessions(recommender, dynamics, n_students, session_length, seed)
        seconds[name] = time.perf_counter() - start
    return Comparison(records, baseline, seconds)


def format_paired(
    paired: Mapping[str, Mapping[str, Mapping[str, float]]], policies: list[str]
) -> str:
    """Lines 'policy vs baseline: +d +- h (CI excludes 0: yes/no)' for the given policies."""
    lines = []
    for name in policies:
        parts = []
        for baseline, figures in paired[name].items():
            if baseline == name:
                continue
            low, high = figures["diff"] - figures["ci95"], figures["diff"] + figures["ci95"]
            verdict = "better" if low > 0 else ("worse" if high < 0 else "no clear difference")
            parts.append(
                f"vs {baseline} {figures['diff']:+.3f} +- {figures['ci95']:.3f} ({verdict})"
            )
        if parts:
            lines.append(f"{name}: " + "; ".join(parts))
    return "\n".join(lines)


def format_table(table: pd.DataFrame) -> str:
    """The comparison table as aligned text for a terminal."""
    lines = [
        f"{'policy':<14}{'post-test (95% CI)':>22}{'gain':>8}{'steps to mastery':>18}"
        f"{'mastered':>10}{'diff vs random (95% CI)':>26}"
    ]
    for name, row in table.iterrows():
        lines.append(
            f"{name:<14}{row.post_test_mean:>12.3f} +- {row.post_test_ci95:<6.3f}"
            f"{row.gain_mean:>8.3f}"
            f"{row.steps_to_mastery_mean:>13.1f} +- {row.steps_to_mastery_ci95:<3.1f}"
            f"{row.mastered_fraction:>9.0%}"
            f"{row.diff_vs_random:>+16.3f} +- {row.diff_ci95:<6.3f}"
        )
    return "\n".join(lines)


def interactive_session(
    recommender: Recommender,
    input_stream: TextIO,
    output_stream: TextIO,
    max_steps: int = 50,
    seed: int = 0,
) -> int:
    """A person plays the student: answers each recommended exercise with y/n on ``input_stream``.

    After each answer it shows the model's knowledge estimate per skill and the next
    recommendation with the policy's explanation. Ends cleanly on EOF, on ``q``, or after
    ``max_steps`` answers; unrecognised input is asked again.

    Returns:
        The number of answers given.
    """
    session = recommender.start(1, np.random.default_rng(seed))
    has_belief = hasattr(session, "skill_knowledge")

    def show_knowledge() -> None:
        if not has_belief:
            return
        knowledge = session.skill_knowledge()[0]
        output_stream.write("  knowledge estimate per skill:\n")
        for name, value in zip(recommender.skill_names, knowledge):
            output_stream.write(f"    {name:<28} {value:5.2f} {'#' * int(round(20 * value))}\n")

    show_knowledge()
    answers = 0
    while answers < max_steps:
        exercise = int(session.choose()[0])
        output_stream.write(
            f"\nNext: {recommender.exercise_label(exercise)}\n  why: {session.explain(0)}\n"
        )
        while True:
            output_stream.write("Did you answer it correctly? [y/n, q to quit] ")
            output_stream.flush()
            line = input_stream.readline()
            if line == "":
                output_stream.write("\n(end of input)\n")
                return answers
            reply = line.strip().lower()
            if not input_stream.isatty():
                output_stream.write(
                    f"{reply}\n"
                )  # echo piped answers so the transcript reads like a session
            if reply in ("y", "yes", "n", "no", "q", "quit"):
                break
            output_stream.write(f"  please type y, n or q (got {reply!r})\n")
        if reply in ("q", "quit"):
            return answers
        session.observe(np.array([exercise]), np.array([reply.startswith("y")]))
        answers += 1
        show_knowledge()
    return answers
