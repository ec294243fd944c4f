"""Our BKT against pyBKT's C++ build: python scripts/bench_bkt.py [--quick] [--out DIR].

Fits both on the same training log (default: ASSISTments 2009 builder_train.csv) and scores
the same test log (builder_test.csv): fit seconds, predict seconds and test AUC of each,
printed side by side with ratios and written to DIR/summary.json. pyBKT runs in its own
virtual environment (--pybkt-python, default .bench/pybkt-venv/bin/python, built from the
pyBKT 1.4.3 source distribution so that its C++ core is used) as a subprocess of this very
file in worker mode; its predictions come back and are scored here by the same kt.data.metrics.
If that interpreter or pyBKT is missing, the pyBKT side is skipped with the reason recorded.
--quick uses the first 40 students of each file (a smoke test, not a measurement).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pybkt_worker(train_csv: str, test_csv: str, result_json: str, num_fits: int, seed: int) -> None:
    """Run inside pyBKT's environment: fit, predict, write timings and predictions."""
    import pandas as pd
    from pyBKT.fit import (
        E_step,
    )  # the C++ extension; its absence means the slow pure-Python fallback
    from pyBKT.models import Model

    train, test = pd.read_csv(train_csv), pd.read_csv(test_csv)
    model = Model(seed=seed, num_fits=num_fits)
    start = time.perf_counter()
    model.fit(data=train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(data=test)
    predict_seconds = time.perf_counter() - start
    predicted = predicted.sort_values("row")
    Path(result_json).write_text(
        json.dumps(
            {
                "fit_seconds": fit_seconds,
                "predict_seconds": predict_seconds,
                "num_fits": num_fits,
                "c_extension": E_step.__file__,
                "row": predicted["row"].tolist(),
                "p_correct": predicted["correct_predictions"].astype(float).tolist(),
            }
        )
    )


def to_pybkt_csv(table, path: Path) -> None:
    """pyBKT's columns; order_id is the row's global position.

    pyBKT sorts by order_id, then stably by user.
    """
    import numpy as np
    import pandas as pd

    pd.DataFrame(
        {
            "row": np.arange(len(table)),
            "user_id": table["user_id"].astype(str),
            "skill_name": table["skill_id"].astype(str),
            "correct": table["correct"].astype(int),
            "order_id": np.arange(len(table)),
        }
    ).to_csv(path, index=False)


def main() -> None:
    import numpy as np
    from tqdm import tqdm

    from riley_gym.kt.data import default_data_dir, read_log
    from riley_gym.kt.data.metrics import binary_metrics
    from riley_gym.kt.models.bkt import BKT, BKTConfig

    data = default_data_dir() / "assist2009_builder"
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--train", default=str(data / "builder_train.csv"), help="training log (any kt.data format)"
    )
    parser.add_argument("--test", default=str(data / "builder_test.csv"), help="test log")
    parser.add_argument(
        "--pybkt-python",
        default=str(ROOT / ".bench" / "pybkt-venv" / "bin" / "python"),
        help="python of the environment with pyBKT's C++ build",
    )
    parser.add_argument(
        "--num-fits", type=int, default=5, help="pyBKT random restarts (its default: 5)"
    )
    parser.add_argument(
        "--pybkt-threads",
        type=int,
        default=None,
        help=(
            "OMP_NUM_THREADS for pyBKT (default: unset, its OpenMP default); "
            "ours is single-threaded numpy"
        ),
    )
    parser.add_argument(
        "--restarts", type=int, default=BKTConfig().n_restarts, help="our EM restarts"
    )
    parser.add_argument(
        "--quick", action="store_true", help="first 40 students of each file: a smoke test"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of both fits")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench_bkt"), help="output folder")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in (args.train, args.test):
        if not Path(path).is_file():
            parser.error(f"no log at {path}; set RILEY_DATA_DIR or pass --train/--test")
    train, _ = read_log(args.train)
    test, _ = read_log(args.test)
    if args.quick:
        train = train[train["user_id"].isin(train["user_id"].unique()[:40])].reset_index(drop=True)
        test = test[test["user_id"].isin(test["user_id"].unique()[:40])].reset_index(drop=True)
    load_before = os.getloadavg()
    results, skipped = {}, {}
    steps = tqdm(["ours", "pybkt"], desc="bench_bkt")
    for side in steps:
        steps.set_postfix_str(side)
        if side == "ours":
            model = BKT(BKTConfig(n_restarts=args.restarts, seed=args.seed))
            start = time.perf_counter()
            model.fit(train)
            fit_seconds = time.perf_counter() - start
            start = time.perf_counter()
            p = model.predict(test)["p_correct"].to_numpy()
            results["ours"] = {
                "fit_seconds": fit_seconds,
                "predict_seconds": time.perf_counter() - start,
                "n_iterations": model.n_iterations,
                "config": model.config.to_dict(),
            }
        elif not Path(args.pybkt_python).is_file():
            skipped["pybkt"] = (
                f"no pyBKT interpreter at {args.pybkt_python} (build it: see issue 4)"
            )
            continue
        else:
            with tempfile.TemporaryDirectory() as folder:
                train_csv, test_csv, result = (
                    Path(folder) / name for name in ("train.csv", "test.csv", "result.json")
                )
                to_pybkt_csv(train, train_csv)
                to_pybkt_csv(test, test_csv)
                command = [
                    args.pybkt_python,
                    __file__,
                    "--pybkt-worker",
                    str(train_csv),
                    str(test_csv),
                    str(result),
                    str(args.num_fits),
                    str(args.seed),
                ]
                env = dict(
                    os.environ,
                    **({"OMP_NUM_THREADS": str(args.pybkt_threads)} if args.pybkt_threads else {}),
                )
                finished = subprocess.run(command, capture_output=True, text=True, env=env)
                (out / "pybkt.log").write_text(finished.stdout + finished.stderr)
                if finished.returncode != 0:
                    skipped["pybkt"] = (
                        f"pyBKT worker failed (exit {finished.returncode}): "
                        f"{finished.stderr.strip().splitlines()[-1:]}"
                    )
                    continue
                reply = json.loads(result.read_text())
            p = np.asarray(reply.pop("p_correct"))
            # pyBKT's guess + (1 - slip - guess) * known can round to 1 + 2e-16: clip only that.
            if np.any((p < -1e-9) | (p > 1 + 1e-9)):
                raise RuntimeError(f"pyBKT predicted outside [0, 1]: {p.min()} .. {p.max()}")
            p = np.clip(p, 0.0, 1.0)
            if reply.pop("row") != list(range(len(test))):
                raise RuntimeError("pyBKT returned predictions for other rows than the test log's")
            results["pybkt"] = reply
        results[side].update(
            {f"test_{k}": v for k, v in binary_metrics(test["correct"], p).items()}
        )
    summary = {
        "train": args.train,
        "test": args.test,
        "quick": args.quick,
        "n_train_rows": len(train),
        "n_test_rows": len(test),
        "settings": vars(args),
        "sides": results,
        "skipped": skipped,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
    }
    if "pybkt" in results:
        ours, theirs = results["ours"], results["pybkt"]
        summary["ratios"] = {
            "fit_speedup": theirs["fit_seconds"] / ours["fit_seconds"],
            "predict_speedup": theirs["predict_seconds"] / ours["predict_seconds"],
            "test_auc_difference": ours["test_auc"] - theirs["test_auc"],
        }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{'':10s}{'fit s':>10s}{'predict s':>11s}{'test AUC':>10s}")
    for side, values in results.items():
        print(
            f"{side:10s}{values['fit_seconds']:10.3f}{values['predict_seconds']:11.3f}{values['test_auc']:10.4f}"
        )
    for key, value in summary.get("ratios", {}).items():
        print(f"{key}: {value:.4f}")
    for side, reason in skipped.items():
        print(f"{side} skipped: {reason}")
    print(
        f"load average before {load_before}, after {summary['loadavg_after']}; "
        f"wrote {out / 'summary.json'}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--pybkt-worker":
        pybkt_worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        main()
