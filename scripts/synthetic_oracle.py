"""The yardstick for DKT on the synthetic logs: python scripts/synthetic_oracle.py --data naive_c5_q50_s4000_v0.csv.

Scores, under the DKT paper's split (first half of the students to fit, second half to test), the
Bayes predictor that knows every exercise's hidden concept and difficulty from the matching
``_info.txt`` (kt/irt_oracle.py): what a model of these logs can be expected to reach at best. Its
three population parameters (guess rate, ability spread, practice gain) are fitted by likelihood on
the first half only. Every attempt is scored, as train_kt.py scores DKT. Writes DIR/summary.json.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from kt.data import read_matrix
from kt.irt_oracle import fit_oracle, oracle_predictions, read_exercise_info
from kt.metrics import binary_metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a response matrix (naive_c5_q50_s4000_vN.csv)")
    parser.add_argument("--info", default=None, help="its exercise file (default: the data path with _info.txt)")
    parser.add_argument("--out", default=None, help="output folder (default runs/oracle-<data name>)")
    args = parser.parse_args()
    data = Path(args.data)
    info = Path(args.info) if args.info else data.with_name(data.stem + "_info.txt")
    if not info.is_file():
        parser.error(f"no exercise file {info}: the oracle needs each exercise's concept and difficulty (--info)")
    table, _ = read_matrix(data)
    matrix = table.pivot(index="user_id", columns="item_id", values="correct")  # (students, exercises)
    if matrix.isna().any().any():
        parser.error(f"{data}: the oracle needs every student to answer every exercise; some answers are missing")
    responses = matrix.to_numpy(dtype=np.int64)
    concept, difficulty = read_exercise_info(info, responses.shape[1])
    half = responses.shape[0] // 2
    started = time.perf_counter()
    fitted = fit_oracle(responses[:half], concept, difficulty)
    predictions, _ = oracle_predictions(responses[half:], concept, difficulty, fitted["guess"], fitted["ability_sd"], fitted["gain"])
    metrics = binary_metrics(responses[half:].ravel(), predictions.ravel())
    summary = {"model": "irt-oracle", "data": str(data), "info": str(info), "protocol": "dkt-synthetic", "n_train_students": half,
               "n_test_students": responses.shape[0] - half, **{f"test_{k}": v for k, v in metrics.items()},
               "fitted": fitted, "seconds": time.perf_counter() - started}
    out = Path(args.out or f"runs/oracle-{data.stem}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
