"""Fit the student simulator to a logged data set, check the fit, and evaluate policies there.

Calibration (``calibrate_bkt``):

1. Per-skill BKT by EM (``kt.models.bkt.BKT``): prior, learn, guess, slip for each skill of the log.
   Each skill becomes one exercise of a calibrated curriculum (logs such as the DKT paper's
   three-line files carry no exercise ids), with the fitted guess and slip. The log says
   nothing about prerequisites, so the calibrated curriculum has none.
2. A population over students: the simulator's per-student learning-rate multiplier
   ``m ~ exp(N(0, sd) - sd**2 / 2)`` with ``learn_i = 1 - (1 - learn) ** m`` (the parametrisation
   of ``envs.student_dynamics``). ``sd`` is estimated by marginal maximum likelihood (empirical
   Bayes): with the per-skill parameters fixed, each training student's likelihood
   L_s(m) = prod over their skills of the BKT forward likelihood with learn_i(m) is computed on a
   grid of log m; the log marginal likelihood sum_s log integral L_s(m) p_sd(m) dm is evaluated on a
   grid of sd (trapezoid rule in log m), and the best sd is kept. This avoids the upward bias of
   taking the spread of per-student maximum-likelihood multipliers (each is noisy, so their
   spread overstates the true spread). Per-student prior jitter is not estimated (``prior_sd = 0``).

Fit quality (``fit_quality``): the logged students' own skill sequences are replayed through
the calibrated simulator with fresh simulated students (same exercises in the same order, so
the comparison is not confounded by the tutoring policy), and per-skill correctness by attempt
number is compared, real vs simulated.

Against the log (``run_on_logs``): the policy comparison of ``kt.experiments.tutor_pipeline`` on the
calibrated simulator (DKT and BKT trained on the REAL training students), the KT models' AUC on
held-out real students, and for those held-out students the policies' recommended sequences vs
the logged ones with a trained DKT as the judge (it plays the student, sampling answers from its
predictions). The judge is a model, not a student.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from riley_gym.envs.curriculum import Curriculum
from riley_gym.envs.student_dynamics import BKTDynamics, BKTParams
from riley_gym.kt.data import read_log
from riley_gym.kt.data.metrics import binary_metrics
from riley_gym.kt.data.splits import holdout_split
from riley_gym.kt.experiments.plots import plot_fit_quality
from riley_gym.kt.experiments.tutor_pipeline import belief_of, run_comparison
from riley_gym.kt.models.bkt import BKT
from riley_gym.kt.tutoring.simulation import mean_ci95

LOG_M_GRID = np.linspace(
    -4.0, 4.0, 41
)  # log learning-rate multipliers at which student likelihoods are computed
SD_GRID = np.round(np.arange(0.0, 2.01, 0.1), 2)  # candidate population sds


def restrict_to_top_skills(table: pd.DataFrame, top_skills: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Keep the ``top_skills`` most-practised skills; skill ids become 0..N-1, item_id = skill.

    The new skill ids run from the most practised (0) to the least.

    Returns:
        (the restricted canonical table, (N,) the original skill ids in the new order).
    """
    if top_skills < 1:
        raise ValueError(f"top_skills must be >= 1, got {top_skills}")
    counts = table["skill_id"].value_counts(sort=True)
    original = counts.index[:top_skills].to_numpy()
    mapping = pd.Series(np.arange(original.size), index=original)
    kept = table[table["skill_id"].isin(original)].copy()
    kept["skill_id"] = mapping.loc[kept["skill_id"].to_numpy()].to_numpy().astype(np.int64)
    kept["item_id"] = kept["skill_id"]
    return kept.reset_index(drop=True), original


def _sequences(
    table: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time-major layout of the (student, skill) sequences.

    Returns:
        student (n_seq,) student code of each sequence, skill (n_seq,), correct (n_seq, T) int8
        padded with 0, mask (n_seq, T) bool, and student codes of the table's students
        (n_students,).
    """
    codes, students = pd.factorize(table["user_id"], sort=False)
    frame = pd.DataFrame(
        {
            "student": codes,
            "skill": table["skill_id"].to_numpy(),
            "order": table["order"].to_numpy(),
            "correct": table["correct"].to_numpy(),
        }
    )
    frame = frame.sort_values(["student", "skill", "order"], kind="stable")
    keys, seq = np.unique(frame[["student", "skill"]].to_numpy(), axis=0, return_inverse=True)
    seq = seq.reshape(-1)
    position = frame.groupby(seq).cumcount().to_numpy()
    length = np.bincount(seq)
    correct = np.zeros((keys.shape[0], int(length.max())), dtype=np.int8)
    mask = np.zeros_like(correct, dtype=bool)
    correct[seq, position] = frame["correct"].to_numpy()
    mask[seq, position] = True
    return keys[:, 0], keys[:, 1], correct, mask, np.arange(len(students))


def student_log_likelihoods(
    table: pd.DataFrame,
    prior: np.ndarray,
    learn: np.ndarray,
    guess: np.ndarray,
    slip: np.ndarray,
    log_multipliers: np.ndarray,
) -> np.ndarray:
    """(n_students, G) log-likelihood of each student's answers under BKT with scaled learn rates.

    For each of the G multipliers m = exp(log_multipliers), learn_i = 1 - (1 - learn) ** m.
    Students are in order of first appearance; parameters are per skill, indexed by ``skill_id``.
    """
    student, skill, correct, mask, students = _sequences(table)
    m = np.exp(np.asarray(log_multipliers, dtype=np.float64))  # (G,)
    learn_seq = 1.0 - (1.0 - learn[skill])[:, None] ** m[None, :]  # (n_seq, G)
    known = np.repeat(prior[skill][:, None], m.size, axis=1)  # (n_seq, G) p(known) before the step
    g, s = guess[skill][:, None], slip[skill][:, None]  # (n_seq, 1)
    total = np.zeros((student.size, m.size))
    for t in range(correct.shape[1]):
        active = mask[:, t]
        rows = np.flatnonzero(active)
        k = known[rows]  # (a, G)
        right = correct[rows, t].astype(bool)[:, None]  # (a, 1)
        joint_known = k * np.where(right, 1.0 - s[rows], s[rows])  # (a, G) p(known, answer)
        joint_unknown = (1.0 - k) * np.where(
            right, g[rows], 1.0 - g[rows]
        )  # (a, G) p(unknown, answer)
        evidence = np.maximum(joint_known + joint_unknown, 1e-300)
        total[rows] += np.log(evidence)
        posterior = joint_known / evidence
        known[rows] = posterior + (1.0 - posterior) * learn_seq[rows]
    per_student = np.zeros((students.size, m.size))
    np.add.at(per_student, student, total)
    return per_student


def estimate_learn_rate_sd(
    log_likelihoods: np.ndarray,
    log_multipliers: np.ndarray = LOG_M_GRID,
    sd_grid: np.ndarray = SD_GRID,
) -> tuple[float, np.ndarray]:
    """Marginal-likelihood estimate of the population sd of the log learning-rate multiplier.

    Args:
        log_likelihoods: (n_students, G) from ``student_log_likelihoods`` on ``log_multipliers``.
        log_multipliers: (G,) the grid of log m.
        sd_grid: candidate sds (0 means every student has m = 1).

    Returns:
        (best sd, (len(sd_grid),) the log marginal likelihood of each candidate).
    """
    x = np.asarray(log_multipliers, dtype=np.float64)
    zero = int(np.argmin(np.abs(x)))
    if abs(x[zero]) > 1e-12:
        raise ValueError(
            "estimate_learn_rate_sd: the log-multiplier grid must contain 0 (sd = 0 means m = 1)"
        )
    scores = []
    widths = np.gradient(x)  # trapezoid-like weights on the grid
    peak = log_likelihoods.max(axis=1, keepdims=True)  # (n, 1) for numerical stability
    scaled = np.exp(log_likelihoods - peak)  # (n, G)
    for sd in sd_grid:
        if sd == 0:
            marginal = scaled[:, zero]
        else:
            mean = -0.5 * sd * sd  # E[m] = 1
            density = (
                np.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * np.sqrt(2 * np.pi)) * widths
            )  # (G,)
            density /= density.sum()
            marginal = scaled @ density
        scores.append(float(np.sum(np.log(np.maximum(marginal, 1e-300)) + peak[:, 0])))
    scores = np.array(scores)
    return float(sd_grid[int(np.argmax(scores))]), scores


@dataclass
class Calibration:
    """A simulator fitted to a log: the dynamics and how it was obtained."""

    dynamics: Any
    skill_parameters: pd.DataFrame
    learn_rate_sd: float
    sd_log_likelihood: np.ndarray
    original_skill_ids: np.ndarray


def calibrate_bkt(
    train: pd.DataFrame,
    original_skill_ids: np.ndarray | None = None,
    estimate_population: bool = True,
) -> Calibration:
    """Fit BKT per skill and the learning-rate population on ``train``; build the simulator.

    The skill ids of ``train`` must be 0..N-1 (see ``restrict_to_top_skills``).

    Returns:
        The ``Calibration`` (``dynamics`` is an ``envs.student_dynamics.BKTDynamics``).
    """

    n_skills = int(train["skill_id"].max()) + 1
    if sorted(train["skill_id"].unique().tolist()) != list(range(n_skills)):
        raise ValueError(
            f"calibrate_bkt: skill ids must be 0..N-1 (use restrict_to_top_skills), got "
            f"{sorted(train['skill_id'].unique().tolist())[:10]}..."
        )
    model = BKT().fit(train)
    params = model.params.reindex(range(n_skills))
    prior, learn, guess, slip = (
        params[name].to_numpy() for name in ("prior", "learn", "guess", "slip")
    )
    sd, scores = 0.0, np.zeros(1)
    if estimate_population:
        log_likelihoods = student_log_likelihoods(train, prior, learn, guess, slip, LOG_M_GRID)
        sd, scores = estimate_learn_rate_sd(log_likelihoods)
    original = np.arange(n_skills) if original_skill_ids is None else np.asarray(original_skill_ids)
    names = [f"skill {int(s)}" for s in original]
    curriculum = Curriculum.from_dict(
        {
            "name": "calibrated",
            "description": (
                "one exercise per skill, guess/slip from per-skill BKT fitted by EM; "
                "no prerequisites (the log does not show them)"
            ),
            "skills": [{"name": name, "prerequisites": []} for name in names],
            "exercises": [
                {
                    "name": name,
                    "skill": name,
                    "difficulty": 0.0,
                    "guess": float(min(guess[k], 0.499)),
                    "slip": float(min(slip[k], 0.499)),
                }
                for k, name in enumerate(names)
            ],
        }
    )
    dynamics = BKTDynamics(
        curriculum,
        BKTParams(
            prior=tuple(prior),
            learn=tuple(learn),
            forget=0.0,
            prerequisite_penalty=1.0,
            learn_rate_sd=sd,
            prior_sd=0.0,
        ),
    )
    return Calibration(dynamics, params, sd, scores, original)


def replay_logged_sequences(table: pd.DataFrame, dynamics: Any, seed: int = 0) -> pd.DataFrame:
    """Fresh simulated students do the logged students' exercises in the logged order.

    Returns:
        A copy of ``table`` (sorted by student and order) whose ``correct`` are the simulated
        answers.
    """
    codes, _ = pd.factorize(table["user_id"], sort=False)
    frame = (
        table.assign(_student=codes)
        .sort_values(["_student", "order"], kind="stable")
        .reset_index(drop=True)
    )
    position = frame.groupby("_student").cumcount().to_numpy()
    n_students, length = int(codes.max()) + 1, int(position.max()) + 1
    exercises = np.zeros((length, n_students), dtype=np.int64)
    exercises[position, frame["_student"].to_numpy()] = frame["item_id"].to_numpy()
    rng = np.random.default_rng(seed)
    state = dynamics.init_state(n_students, rng)
    answers = np.zeros((length, n_students), dtype=np.int8)
    for t in range(
        length
    ):  # students past their sequence's end keep stepping on exercise 0; those answers are not used
        answers[t] = dynamics.step(state, exercises[t], rng)
    frame["correct"] = answers[position, frame["_student"].to_numpy()]
    return frame.drop(columns="_student")


def correctness_by_attempt(table: pd.DataFrame, max_attempt: int = 10) -> pd.DataFrame:
    """Mean correctness of each skill at its 1st, 2nd, ... attempt by a student.

    Returns:
        (skill_id, attempt) -> mean, n (the columns ``mean`` and ``size``).
    """
    frame = table.sort_values(["user_id", "order"], kind="stable")
    attempt = frame.groupby(["user_id", "skill_id"], sort=False).cumcount() + 1
    frame = frame.assign(attempt=attempt.to_numpy())
    frame = frame[frame["attempt"] <= max_attempt]
    return frame.groupby(["skill_id", "attempt"])["correct"].agg(["mean", "size"])


def fit_quality(
    real: pd.DataFrame, dynamics: Any, max_attempt: int = 10, seed: int = 0
) -> pd.DataFrame:
    """Per-skill correctness by attempt number, real vs simulated (same logged exercise sequences).

    Returns:
        DataFrame indexed by (skill_id, attempt) with real, simulated, n (real rows), difference.
    """
    simulated = replay_logged_sequences(real, dynamics, seed)
    real_curve = correctness_by_attempt(real, max_attempt)
    sim_curve = correctness_by_attempt(simulated, max_attempt)
    table = pd.DataFrame(
        {"real": real_curve["mean"], "simulated": sim_curve["mean"], "n": real_curve["size"]}
    )
    table["difference"] = table["simulated"] - table["real"]
    return table


def fit_summary_table(
    quality: pd.DataFrame, attempts: tuple[int, ...] = (1, 2, 3, 5, 10)
) -> pd.DataFrame:
    """Compact view: one row per skill, real/simulated correctness at a few attempt numbers.

    Each row also holds the mean |difference| (weighted by the number of answers) and n_first.
    """
    rows = {}
    for skill, group in quality.groupby(level="skill_id"):
        group = group.droplevel("skill_id")
        row = {}
        for a in attempts:
            if a in group.index:
                row[f"real@{a}"] = group.loc[a, "real"]
                row[f"sim@{a}"] = group.loc[a, "simulated"]
        row["mean_abs_diff"] = float(np.average(np.abs(group["difference"]), weights=group["n"]))
        row["n_first"] = int(group["n"].iloc[0])
        rows[skill] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "skill"
    return table


def judge_against_logs(
    recommenders: dict, judge: Any, heldout: pd.DataFrame, length: int, seed: int = 0
) -> pd.DataFrame:
    """Policies vs the logged sequences of held-out students, with a knowledge model as the judge.

    For every held-out student with at least ``length`` attempts: the judge's predicted post-test
    (mean predicted p(correct) over exercises) after the student's first ``length`` logged
    attempts, and after ``length`` exercises chosen by each policy from the same empty start, the
    answers sampled from the judge's own predictions (the judge plays the student; the same
    uniforms for every policy). Policies that read a simulator's hidden state are skipped.

    Returns:
        DataFrame indexed by ``logged`` and each policy: judged_post_test, diff_vs_logged,
        diff_ci95, n_students.
    """

    frame = heldout.sort_values(["user_id", "order"], kind="stable")
    position = frame.groupby("user_id", sort=False).cumcount().to_numpy()
    frame = frame[position < length].assign(position=position[position < length])
    counts = frame.groupby("user_id", sort=False).size()
    users = counts.index[counts.to_numpy() == length]
    if len(users) < 2:
        raise ValueError(
            f"judge_against_logs: need at least 2 held-out students with {length} attempts, "
            f"found {len(users)}"
        )
    frame = frame[frame["user_id"].isin(users)]
    index = pd.Series(np.arange(len(users)), index=users)
    n = len(users)
    exercises = np.zeros((length, n), dtype=np.int64)
    correct = np.zeros((length, n), dtype=np.int64)
    rows = index.loc[frame["user_id"].to_numpy()].to_numpy()
    exercises[frame["position"].to_numpy(), rows] = frame["item_id"].to_numpy()
    correct[frame["position"].to_numpy(), rows] = frame["correct"].to_numpy()
    state = judge.init(n)
    for t in range(length):
        state = judge.update(state, exercises[t], correct[t])
    logged = judge.p_correct(state).mean(axis=1)  # (n,)
    results = {
        "logged": {
            "judged_post_test": float(logged.mean()),
            "diff_vs_logged": 0.0,
            "diff_ci95": 0.0,
            "n_students": n,
        }
    }
    uniforms = np.random.default_rng([seed, 3]).random((length, n))
    for name, recommender in recommenders.items():
        if name == "oracle":
            continue
        session = recommender.start(n, np.random.default_rng([seed, 2]))
        state = judge.init(n)
        for t in range(length):
            chosen = session.choose()
            p = judge.p_correct(state)[np.arange(n), chosen]
            answers = uniforms[t] < p
            session.observe(chosen, answers)
            state = judge.update(state, chosen, answers)
        final = judge.p_correct(state).mean(axis=1)
        diff, half = mean_ci95(final - logged)
        results[name] = {
            "judged_post_test": float(final.mean()),
            "diff_vs_logged": diff,
            "diff_ci95": half,
            "n_students": n,
        }
    table = pd.DataFrame.from_dict(results, orient="index")
    table.index.name = "sequence"
    return table


def run_on_logs(
    path: str,
    format: str,
    top_skills: int,
    config: Any,
    out_dir: str | Path,
    progress: Any = None,
    judge_length: int = 20,
) -> dict[str, Any]:
    """Calibrate to a log, check the fit, compare policies, judge them against held-out students.

    Policies are compared on the calibrated simulator. Writes ``out_dir``: summary.json,
    fit_quality.csv/.png, comparison.csv, learning curves, judge.csv and the knowledge heatmap.
    Returns the summary plus DataFrames (``fit_table``, ``judge_table``, ``table``).
    """

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    say = progress.set_description if progress is not None else (lambda text: None)
    say("reading and calibrating")
    table, report = read_log(path, format)
    restricted, original = restrict_to_top_skills(table, top_skills)
    train, heldout = holdout_split(restricted, test_fraction=0.2, seed=config.seed)
    calibration = calibrate_bkt(train, original)
    quality = fit_quality(heldout, calibration.dynamics, seed=config.seed)
    fit_table = fit_summary_table(quality)
    quality.to_csv(out_dir / "fit_quality.csv")
    plot_fit_quality(
        quality, out_dir / "fit_quality.png", {k: f"skill {int(s)}" for k, s in enumerate(original)}
    )
    if progress is not None:
        progress.update(1)
    result = run_comparison(
        config, calibration.dynamics, train, out_dir, progress, label="calibrated: "
    )
    models = result["models"]
    dkt_pred = models["tracer"].predict(heldout.assign(skill_id=heldout["item_id"]))
    bkt_pred = models["bkt"].predict(heldout)
    judge = belief_of(models["tracer"], calibration.dynamics.exercise_skill)
    say("judging against logged sequences")
    judge_table = judge_against_logs(
        result["recommenders"], judge, heldout, judge_length, seed=config.seed
    )
    judge_table.to_csv(out_dir / "judge.csv")
    summary = {
        "policies": result["policies"],
        "paired_differences": result["paired_differences"],
        "verdicts": result["verdicts"],
        "diagnosis": result["diagnosis"],
        "tutor_learning_curve": result["tutor_learning_curve"],
        "data": str(path),
        "read_report": report.to_dict() if hasattr(report, "to_dict") else str(report),
        "top_skills": [int(s) for s in original],
        "n_train_students": int(train["user_id"].nunique()),
        "n_heldout_students": int(heldout["user_id"].nunique()),
        "calibration": {
            "skill_parameters": {
                int(k): {c: float(v) for c, v in row.items()}
                for k, row in calibration.skill_parameters[
                    ["prior", "learn", "guess", "slip"]
                ].iterrows()
            },
            "learn_rate_sd": calibration.learn_rate_sd,
            "sd_grid": SD_GRID.tolist(),
            "sd_log_marginal_likelihood": calibration.sd_log_likelihood.tolist(),
        },
        "fit_quality": {
            "mean_abs_diff": float(np.average(np.abs(quality["difference"]), weights=quality["n"])),
            "per_skill": fit_table.reset_index().to_dict(orient="records"),
        },
        "tracer": result["tracer"],
        "tracer_test_auc": result["tracer_test_auc"],
        "dkt_test_auc": result["dkt_test_auc"],
        "bkt_test_auc": result["bkt_test_auc"],
        "rollout_base": result["rollout_base"],
        "dkt_heldout_auc": binary_metrics(
            dkt_pred["correct"].to_numpy(), dkt_pred["p_correct"].to_numpy()
        )["auc"],
        "bkt_heldout_auc": binary_metrics(
            bkt_pred["correct"].to_numpy(), bkt_pred["p_correct"].to_numpy()
        )["auc"],
        "judge": {name: row for name, row in judge_table.to_dict(orient="index").items()},
        "judge_caveat": (
            "the judge is the DKT trained on the log (a model, not a student); "
            "the DKT-based policies are judged by their own model"
        ),
        "seconds": {**result["seconds"], "total": time.perf_counter() - start},
        "load_average": list(os.getloadavg()),
        "torch_threads": torch.get_num_threads(),  # float sums, hence figures, depend on it
        "settings": {
            **config.to_dict(),
            "dynamics": "bkt (calibrated)",
            "logs": str(path),
            "format": format,
            "top_skills": top_skills,
            "judge_length": judge_length,
        },
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return {**summary, "fit_table": fit_table, "judge_table": judge_table, "table": result["table"]}
