"""The yardsticks for DKT on the synthetic logs: python scripts/synthetic_oracle.py --data naive_c5_q50_s4000_v0.csv.

Scores, under the DKT paper's split (first half of the students to fit, second half to test), the
Bayes predictor of the item-response model that generated these logs (kt/experiments/irt_oracle.py):

  --structure given    knows every exercise's hidden concept and difficulty from the matching
                       ``_info.txt``; its three population parameters (guess rate, ability spread,
                       practice gain) are fitted by likelihood on the first half. What a model of
                       these logs can be expected to reach at best.
  --structure learned  learns everything from the first half's answers alone: concepts by
                       clustering the exercises' answer correlations (their number chosen by
                       held-out likelihood unless --concepts is given), difficulties and population
                       parameters by marginal likelihood. What the training data allow a model that
                       assumes this structure; when the info file is there, the summary says how
                       well the concepts and difficulties were recovered.

Every attempt is scored, as train_kt.py scores DKT. Writes DIR/summary.json.

  --compare RUN...     also scores models that train_kt.py trained on this log (their run folders)
                       on both halves (the first half holds the students they trained on, and
                       their validation hold-out unless they were refitted) and breaks each
                       one's log-loss minus the predictor's down by concept depth (earlier
                       answers on the same concept): summary.json's "compare" and
                       DIR/loss_by_depth.png. Below the predictor on the training half and above it
                       on the test half is overfitting.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from riley_gym.kt.data import read_matrix
from riley_gym.kt.data.metrics import binary_metrics
from riley_gym.kt.experiments.irt_oracle import (
    fit_oracle,
    learn_structure,
    log_loss_by_concept_depth,
    oracle_predictions,
    read_exercise_info,
)
from riley_gym.kt.experiments.plots import plot_loss_gap_by_depth
from riley_gym.kt.experiments.runs import load_saved


def same_partition_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of exercise pairs that both labelings put together or both put apart (1.0: the same concepts)."""
    upper = np.triu_indices(len(a), k=1)
    return float(np.mean((a[:, None] == a[None, :])[upper] == (b[:, None] == b[None, :])[upper]))


def compare_by_depth(
    models: dict, table, matrix, half: int, concept: np.ndarray, reference: dict[str, np.ndarray]
) -> dict:
    """Each model's log-loss and AUC on both halves, and its log-loss minus the reference's by concept depth.

    Args:
        models: run folder -> fitted model.
        table: the whole log; matrix: its (students, exercises) pivot, whose first ``half`` rows trained.
        reference: {"train": (half, m), "test": (n - half, m)} the predictor's probabilities.
    """
    responses = matrix.to_numpy(dtype=np.int64)
    halves = {"train": slice(0, half), "test": slice(half, None)}
    reference_by_depth = {
        h: log_loss_by_concept_depth(responses[rows], reference[h], concept)
        for h, rows in halves.items()
    }
    reference_loss = {
        h: binary_metrics(responses[rows].ravel(), reference[h].ravel())["log_loss"]
        for h, rows in halves.items()
    }
    report = {}
    for run, model in models.items():
        predicted = model.predict(table).pivot(
            index="user_id", columns="item_id", values="p_correct"
        )
        predicted = predicted.reindex(index=matrix.index, columns=matrix.columns).to_numpy(
            dtype=np.float64
        )  # (n, m)
        if np.isnan(predicted).any():
            raise ValueError(
                f"{run}: the model left {int(np.isnan(predicted).sum())} answers unpredicted"
            )
        entry = {}
        for h, rows in halves.items():
            metrics = binary_metrics(responses[rows].ravel(), predicted[rows].ravel())
            gap = (
                log_loss_by_concept_depth(responses[rows], predicted[rows], concept)
                - reference_by_depth[h]
            )
            entry.update(
                {
                    f"{h}_auc": metrics["auc"],
                    f"{h}_log_loss": metrics["log_loss"],
                    f"{h}_reference_log_loss": reference_loss[h],
                    f"{h}_gap_by_depth": gap.round(5).tolist(),
                }
            )
        report[run] = entry
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", required=True, help="a response matrix (naive_c5_q50_s4000_vN.csv)"
    )
    parser.add_argument(
        "--structure",
        choices=("given", "learned"),
        default="given",
        help="read the exercises' concepts and difficulties from --info, or learn them (default given)",
    )
    parser.add_argument(
        "--info", default=None, help="its exercise file (default: the data path with _info.txt)"
    )
    parser.add_argument(
        "--concepts",
        type=int,
        default=None,
        help="learned structure: number of concepts (default: chosen from 1..--max-concepts)",
    )
    parser.add_argument(
        "--max-concepts",
        type=int,
        default=10,
        help="learned structure: most concepts tried (default 10)",
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        default=[],
        metavar="RUN",
        help="run folders of train_kt.py whose models are compared with the predictor by concept depth",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default runs/oracle-<structure>-<data name>)"
    )
    args = parser.parse_args()
    data = Path(args.data)
    info = Path(args.info) if args.info else data.with_name(data.stem + "_info.txt")
    if args.structure == "given" and not info.is_file():
        parser.error(
            f"no exercise file {info}: the given structure needs each exercise's concept and difficulty "
            "(--info), or use --structure learned"
        )
    if args.concepts is not None and args.concepts < 1:
        parser.error(f"--concepts must be >= 1, got {args.concepts}")
    models = {}
    for run in args.compare:
        try:
            models[run] = load_saved(run)[1]
        except ValueError as error:
            parser.error(f"--compare: {error}")
    table, _ = read_matrix(data)
    matrix = table.pivot(
        index="user_id", columns="item_id", values="correct"
    )  # (students, exercises)
    if matrix.isna().any().any():
        parser.error(
            f"{data}: the oracle needs every student to answer every exercise; some answers are missing"
        )
    responses = matrix.to_numpy(dtype=np.int64)
    truth = read_exercise_info(info, responses.shape[1]) if info.is_file() else None
    half = responses.shape[0] // 2
    started = time.perf_counter()
    if args.structure == "given":
        concept, difficulty = truth
        fitted = fit_oracle(responses[:half], concept, difficulty)
        report = {"fitted": fitted, "info": str(info)}
    else:
        try:
            learned = learn_structure(responses[:half], args.concepts, args.max_concepts)
        except ValueError as error:
            parser.error(f"{data}: {error}")
        concept, difficulty = learned["concept"], learned["difficulty"]
        fitted = {key: learned[key] for key in ("guess", "ability_sd", "gain", "log_likelihood")}
        report = {
            "fitted": fitted,
            "n_concepts": learned["n_concepts"],
            "held_out_log_likelihood": learned["held_out_log_likelihood"],
            "concept": concept.tolist(),
            "difficulty": difficulty.round(4).tolist(),
        }
        if truth is not None:
            report["recovery"] = {
                "info": str(info),
                "same_partition_fraction": same_partition_fraction(concept, truth[0]),
                "difficulty_correlation": float(np.corrcoef(difficulty, truth[1])[0, 1]),
            }
    predictions, _ = oracle_predictions(
        responses[half:], concept, difficulty, fitted["guess"], fitted["ability_sd"], fitted["gain"]
    )
    metrics = binary_metrics(responses[half:].ravel(), predictions.ravel())
    summary = {
        "model": f"irt-oracle-{args.structure}",
        "data": str(data),
        "protocol": "dkt-synthetic",
        "n_train_students": half,
        "n_test_students": responses.shape[0] - half,
        **{f"test_{k}": v for k, v in metrics.items()},
        **report,
        "seconds": time.perf_counter() - started,
    }
    out = Path(args.out or f"runs/oracle-{args.structure}-{data.stem}")
    out.mkdir(parents=True, exist_ok=True)
    if models:
        train_predictions, _ = oracle_predictions(
            responses[:half],
            concept,
            difficulty,
            fitted["guess"],
            fitted["ability_sd"],
            fitted["gain"],
        )
        try:
            summary["compare"] = compare_by_depth(
                models,
                table,
                matrix,
                half,
                concept,
                {"train": train_predictions, "test": predictions},
            )
        except ValueError as error:
            parser.error(f"--compare: {error}")
        plot_loss_gap_by_depth(
            {
                run: {h: r[f"{h}_gap_by_depth"] for h in ("train", "test")}
                for run, r in summary["compare"].items()
            },
            out / "loss_by_depth.png",
            reference=f"{args.structure}-structure predictor",
        )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(
        json.dumps(
            {k: v for k, v in summary.items() if k not in ("concept", "difficulty", "compare")},
            indent=1,
        )
    )
    for run, entry in summary.get("compare", {}).items():
        print(
            f"{run}: log-loss minus the predictor's {entry['train_log_loss'] - entry['train_reference_log_loss']:+.4f} on the "
            f"training half, {entry['test_log_loss'] - entry['test_reference_log_loss']:+.4f} on the test half "
            f"(test AUC {entry['test_auc']:.4f}); by concept depth on the test half: {entry['test_gap_by_depth']}"
        )


if __name__ == "__main__":
    main()
