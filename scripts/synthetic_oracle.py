"""The yardsticks for DKT on the synthetic logs: python scripts/synthetic_oracle.py --data naive_c5_q50_s4000_v0.csv.

Scores, under the DKT paper's split (first half of the students to fit, second half to test), the
Bayes predictor of the item-response model that generated these logs (kt/irt_oracle.py):

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
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from kt.data import read_matrix
from kt.irt_oracle import fit_oracle, learn_structure, oracle_predictions, read_exercise_info
from kt.metrics import binary_metrics


def same_partition_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of exercise pairs that both labelings put together or both put apart (1.0: the same concepts)."""
    upper = np.triu_indices(len(a), k=1)
    return float(np.mean((a[:, None] == a[None, :])[upper] == (b[:, None] == b[None, :])[upper]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a response matrix (naive_c5_q50_s4000_vN.csv)")
    parser.add_argument("--structure", choices=("given", "learned"), default="given",
                        help="read the exercises' concepts and difficulties from --info, or learn them (default given)")
    parser.add_argument("--info", default=None, help="its exercise file (default: the data path with _info.txt)")
    parser.add_argument("--concepts", type=int, default=None,
                        help="learned structure: number of concepts (default: chosen from 1..--max-concepts)")
    parser.add_argument("--max-concepts", type=int, default=10, help="learned structure: most concepts tried (default 10)")
    parser.add_argument("--out", default=None, help="output folder (default runs/oracle-<structure>-<data name>)")
    args = parser.parse_args()
    data = Path(args.data)
    info = Path(args.info) if args.info else data.with_name(data.stem + "_info.txt")
    if args.structure == "given" and not info.is_file():
        parser.error(f"no exercise file {info}: the given structure needs each exercise's concept and difficulty "
                     "(--info), or use --structure learned")
    if args.concepts is not None and args.concepts < 1:
        parser.error(f"--concepts must be >= 1, got {args.concepts}")
    table, _ = read_matrix(data)
    matrix = table.pivot(index="user_id", columns="item_id", values="correct")  # (students, exercises)
    if matrix.isna().any().any():
        parser.error(f"{data}: the oracle needs every student to answer every exercise; some answers are missing")
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
        report = {"fitted": fitted, "n_concepts": learned["n_concepts"],
                  "held_out_log_likelihood": learned["held_out_log_likelihood"], "concept": concept.tolist(),
                  "difficulty": difficulty.round(4).tolist()}
        if truth is not None:
            report["recovery"] = {"info": str(info), "same_partition_fraction": same_partition_fraction(concept, truth[0]),
                                  "difficulty_correlation": float(np.corrcoef(difficulty, truth[1])[0, 1])}
    predictions, _ = oracle_predictions(responses[half:], concept, difficulty, fitted["guess"], fitted["ability_sd"], fitted["gain"])
    metrics = binary_metrics(responses[half:].ravel(), predictions.ravel())
    summary = {"model": f"irt-oracle-{args.structure}", "data": str(data), "protocol": "dkt-synthetic", "n_train_students": half,
               "n_test_students": responses.shape[0] - half, **{f"test_{k}": v for k, v in metrics.items()},
               **report, "seconds": time.perf_counter() - started}
    out = Path(args.out or f"runs/oracle-{args.structure}-{data.stem}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("concept", "difficulty")}, indent=1))


if __name__ == "__main__":
    main()
