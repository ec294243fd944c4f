"""Our knowledge tracer against pyKT's implementation of the same model, on the same
ASSISTments 2015 split with the same hyperparameters.

python scripts/bench_kt.py [--model dkt|sakt|akt|simplekt] [--max-epochs 8] [--quick] [--with-bkt]

Each side runs in its own subprocess, one after the other, with the same torch thread
count: ours is scripts/train_kt.py --protocol pykt in this venv; pyKT's is
scripts/reference_pykt.py in a venv of its own (skipped with a reason when absent):
.bench/pykt-venv (pykt-toolkit 0.0.38 from PyPI) for DKT, .bench/pykt-head-venv (pyKT's
GitHub source, the only one with simpleKT) for the attention models. The settings are the
same flags on both sides (``BENCH_SETTINGS``): for DKT pyKT's (embedding 200, hidden 200,
dropout 0.2, Adam lr 1e-3, batch 256, windows of 200, validation fold 0); for the attention
models those of the README's ASSISTments 2015 rows, except AKT's output width 512, where
pyKT hard-codes the second output layer at 256 and ours is half the first. Prints seconds
per training epoch (wall, and process CPU seconds, which other processes on a shared
machine sway less), peak memory and test AUC of each, and the ratios; writes
DIR/summary.json and DIR/bench.csv. Both sides' test AUCs are also given as pyKT scores:
ours through scripts/evaluate_kt.py --pykt-windows (windows of 200 from an empty history,
no window's first row); train_kt.py's own test AUC scores every attempt once. --quick:
every 25th student of each file, 1 epoch (a smoke test, not a measurement). --with-bkt also
runs scripts/bench_bkt.py (ours vs pyBKT) into DIR/bkt.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from riley_gym import nets
from riley_gym.kt.data import default_data_dir
from riley_gym.kt.experiments.benchmarks import SHARED, pykt_files, run

ROOT = Path(__file__).resolve().parents[1]
# The venv under .bench/ that runs each model's pyKT side, and what it installs after torch:
# PyPI's pykt-toolkit for DKT, pyKT's GitHub source (the only one with simpleKT) otherwise.
REFERENCE_VENVS = {
    "pykt-venv": "pykt-toolkit==0.0.38",
    "pykt-head-venv": "git+https://github.com/pykt-team/pykt-toolkit@f766468 tqdm einops "
    "matplotlib",
}


def reference_venv(model: str) -> str:
    """The name of the .bench/ venv whose python runs pyKT's ``model``."""
    return "pykt-venv" if model == "dkt" else "pykt-head-venv"


def how_to_build(venv: str) -> str:
    """The shell commands that make .bench/``venv``."""
    pip = f".bench/{venv}/bin/pip install"
    return f"python3 -m venv .bench/{venv} && {pip} torch==2.13.0 && {pip} {REFERENCE_VENVS[venv]}"


# The flags both sides take, per model; ours adds OURS_ONLY.
BENCH_SETTINGS = {
    "dkt": SHARED,
    "sakt": [
        *("--embedding-size", "128", "--n-heads", "8", "--n-blocks", "1", "--d-ff", "128"),
        *("--dropout", "0.2", "--learning-rate", "0.001", "--batch-size", "64"),
        *("--max-length", "200"),
    ],
    "akt": [
        *("--embedding-size", "128", "--n-heads", "8", "--n-blocks", "1", "--d-ff", "256"),
        *("--hidden-size", "512", "--dropout", "0.05", "--learning-rate", "0.001"),
        *("--batch-size", "64", "--max-length", "200"),
    ],
    "simplekt": [
        *("--embedding-size", "256", "--n-heads", "4", "--n-blocks", "2", "--d-ff", "256"),
        *("--hidden-size", "256", "--dropout", "0.1", "--learning-rate", "0.001"),
        *("--batch-size", "64", "--max-length", "200"),
    ],
}
OURS_ONLY = {"dkt": ["--hidden-size", "200"]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = default_data_dir() / "assist2015_pykt"
    parser.add_argument(
        "--train-valid", default=str(data / "train_valid.csv"), help="pyKT train_valid.csv"
    )
    parser.add_argument("--test", default=str(data / "test.csv"), help="pyKT test.csv")
    parser.add_argument(
        "--model", choices=list(BENCH_SETTINGS), default="dkt", help="the model both sides train"
    )
    parser.add_argument("--max-epochs", type=int, default=8, help="most epochs for each side")
    parser.add_argument(
        "--reference-max-epochs",
        type=int,
        default=None,
        help="most epochs for pyKT's side (default: --max-epochs)",
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=3,
        help="early-stopping patience of each side (pyKT's own default is 10)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of both sides (default: free cores now)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of both sides")
    parser.add_argument(
        "--quick", action="store_true", help="every 25th student, 1 epoch: a smoke test"
    )
    parser.add_argument(
        "--reference-python",
        default=None,
        help="python of pyKT's venv (default: .bench/pykt-venv for DKT, .bench/pykt-head-venv "
        "for the attention models)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep a side whose DIR/<side>/summary.json already exists",
    )
    parser.add_argument(
        "--with-bkt", action="store_true", help="also run scripts/bench_bkt.py into DIR/bkt"
    )
    parser.add_argument("--out", default="runs/kt/bench", help="output folder")
    args = parser.parse_args()
    venv = reference_venv(args.model)
    reference_python = args.reference_python or str(ROOT / ".bench" / venv / "bin" / "python")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    threads = args.threads or nets.free_cores()
    train_valid, test = pykt_files(args.train_valid, args.test, out, args.quick)
    epochs = 1 if args.quick else args.max_epochs
    reference_epochs = 1 if args.quick else (args.reference_max_epochs or epochs)
    common = [
        *BENCH_SETTINGS[args.model],
        "--patience",
        str(args.patience),
        "--threads",
        str(threads),
        "--seed",
        str(args.seed),
    ]
    sides = {
        "ours": [
            sys.executable,
            "scripts/train_kt.py",
            "--data",
            train_valid,
            "--test",
            test,
            "--protocol",
            "pykt",
            "--model",
            args.model,
            *OURS_ONLY.get(args.model, []),
            "--no-progress",
            *common,
            "--max-epochs",
            str(epochs),
            "--out",
            str(out / "ours"),
        ],
        "pykt": [
            reference_python,
            "scripts/reference_pykt.py",
            "--model",
            args.model,
            "--train-valid",
            train_valid,
            "--test",
            test,
            *common,
            "--max-epochs",
            str(reference_epochs),
            "--out",
            str(out / "pykt"),
        ],
    }
    skipped = {}
    if not Path(reference_python).is_file():
        skipped["pykt"] = f"no reference python at {reference_python} ({how_to_build(venv)})"
        del sides["pykt"]
    results = {}
    for name, command in tqdm(sides.items(), desc="bench", unit="side"):
        load_before = os.getloadavg()
        if not (args.reuse and (out / name / "summary.json").is_file()):
            run(command, out / f"{name}.log")
        results[name] = {
            **json.loads((out / name / "summary.json").read_text()),
            "load_average_before": load_before,
        }
    if "ours" in results:
        # pyKT's scoring of our model, so that both sides' AUCs count the same rows.
        scored = out / "ours" / "evaluate-pykt-windows"
        if not (args.reuse and (scored / "summary.json").is_file()):
            run(
                [
                    sys.executable,
                    "scripts/evaluate_kt.py",
                    "--model",
                    str(out / "ours"),
                    "--data",
                    test,
                    "--pykt-windows",
                    "--threads",
                    str(threads),
                    "--out",
                    str(scored),
                ],
                out / "ours-pykt-windows.log",
            )
        results["ours"]["test_auc_pykt_scoring"] = json.loads(
            (scored / "summary.json").read_text()
        )["test_auc"]
    if "pykt" in results:
        results["pykt"]["test_auc_pykt_scoring"] = results["pykt"]["test_auc"]
    rows = [
        {
            "side": name,
            **{
                key: result.get(key)
                for key in (
                    "seconds_per_epoch",
                    "cpu_seconds_per_epoch",
                    "peak_memory_mb",
                    "test_auc",
                    "test_auc_pykt_scoring",
                    "best_epoch",
                    "epochs_run",
                )
            },
            "load_average_1min_before": result["load_average_before"][0],
        }
        for name, result in results.items()
    ]
    table = pd.DataFrame(rows)
    table.to_csv(out / "bench.csv", index=False)
    ratios = {}
    if {"ours", "pykt"} <= set(results):
        ratios = {
            "speedup_per_epoch": results["pykt"]["seconds_per_epoch"]
            / results["ours"]["seconds_per_epoch"],
            "cpu_speedup_per_epoch": results["pykt"]["cpu_seconds_per_epoch"]
            / results["ours"]["cpu_seconds_per_epoch"],
            "memory_ratio": results["pykt"]["peak_memory_mb"] / results["ours"]["peak_memory_mb"],
            "auc_difference": results["ours"]["test_auc_pykt_scoring"]
            - results["pykt"]["test_auc"],
        }
    bkt = None
    if args.with_bkt:
        if (ROOT / "scripts" / "bench_bkt.py").is_file():
            run(
                [
                    sys.executable,
                    "scripts/bench_bkt.py",
                    "--out",
                    str(out / "bkt"),
                    *(["--quick"] if args.quick else []),
                ],
                out / "bkt.log",
            )
            bkt = json.loads((out / "bkt" / "summary.json").read_text())
        else:
            skipped["bkt"] = "scripts/bench_bkt.py is not in this checkout"
    summary = {
        "model": args.model,
        "settings": BENCH_SETTINGS[args.model],
        "threads": threads,
        "quick": args.quick,
        "max_epochs": epochs,
        "reference_max_epochs": reference_epochs,
        "patience": args.patience,
        "reused": args.reuse,
        "train_valid": train_valid,
        "test": test,
        "sides": results,
        "ratios": ratios,
        "skipped": skipped,
        "bkt": bkt,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    print(table.to_string(index=False))
    for name, value in ratios.items():
        print(f"{name}: {value:.3f}")
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    print(f"wrote {out}/summary.json")


if __name__ == "__main__":
    main()
