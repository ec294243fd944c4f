"""pyKT's DKT, SAKT, AKT or simpleKT on a pyKT split, timed per epoch: the reference side of
scripts/bench_kt.py.

Runs inside a benchmark venv of its own, never a runtime dependency:
    .bench/pykt-venv/bin/python scripts/reference_pykt.py --model dkt \\
        --train-valid TRAIN_VALID.csv --test TEST.csv

pykt-toolkit 0.0.38 from PyPI has DKT, SAKT and AKT; simpleKT is only in its GitHub source
(its SAKT, AKT and DKT modules there are byte-identical to the PyPI release), so
``.bench/pykt-head-venv`` holds that source (commit f766468) for the attention models.

Everything model-related is pyKT's own code: its sequence cutting
(``pykt.preprocess.split_datasets.generate_sequences``: windows of 200, padding -1,
remainders under 3 dropped), its ``KTDataset`` and unshuffled ``DataLoader``, its model
modules (``DKT``, ``SAKT``, ``AKT``, ``simpleKT``), its ``model_forward`` (masked BCE on
the next attempt) and its ``evaluate`` (sklearn AUC). A split with skills only (no item ids)
gets a ``questions`` column copied from ``concepts`` because pyKT's simpleKT reads
``qseqs`` unconditionally; with ``n_pid=0`` (no items) AKT and simpleKT never use it.

Only the epoch loop is spelled out here, as the same four lines as
``pykt.models.train_model.train_model``, so that the training pass of each epoch can be
timed apart from evaluation; early stopping keeps pyKT's rule (a validation AUC gain
above 1e-3 counts; stop ``--patience`` epochs after the best; pyKT uses 10) and the test
AUC is that of the best validation epoch. Writes DIR/summary.json.
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

MODELS = ("dkt", "sakt", "akt", "simplekt")


def build_model(args: argparse.Namespace, n_concepts: int) -> torch.nn.Module:
    """pyKT's module for ``args.model`` with the flags' settings (n_pid=0: skills only)."""
    if args.model == "dkt":
        from pykt.models.dkt import DKT

        return DKT(n_concepts, args.embedding_size, dropout=args.dropout)
    if args.model == "sakt":
        from pykt.models.sakt import SAKT

        if args.d_ff not in (None, args.embedding_size):
            raise SystemExit(f"pyKT's SAKT fixes d_ff at emb_size {args.embedding_size}")
        return SAKT(
            n_concepts,
            args.max_length,
            args.embedding_size,
            args.n_heads,
            args.dropout,
            num_en=args.n_blocks,
        )
    if args.model == "akt":
        from pykt.models.akt import AKT as network

        extra = {}  # pyKT's AKT fixes its second output layer at 256
    else:
        try:
            from pykt.models.simplekt import simpleKT as network
        except ImportError as error:
            raise SystemExit(
                "this pykt has no simpleKT (the PyPI 0.0.38 release lacks it): use "
                ".bench/pykt-head-venv, pyKT's GitHub source installed"
            ) from error
        extra = {"final_fc_dim2": max(args.hidden_size // 2, 1), "seq_len": args.max_length}
    return network(
        n_concepts,
        0,
        args.embedding_size,
        args.n_blocks,
        args.dropout,
        d_ff=args.d_ff or 256,
        final_fc_dim=args.hidden_size,
        num_attn_heads=args.n_heads,
        **extra,
    )


def pykt_version() -> str:
    from importlib.metadata import version

    return version("pykt-toolkit")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--train-valid", required=True, help="pyKT train_valid.csv (fold, uid, concepts, responses)"
    )
    parser.add_argument("--test", required=True, help="pyKT test.csv")
    parser.add_argument("--valid-fold", type=int, default=0, help="validation fold")
    parser.add_argument("--model", choices=MODELS, default="dkt", help="pyKT model")
    parser.add_argument(
        "--embedding-size",
        type=int,
        default=200,
        help="pyKT emb_size (DKT: also the LSTM width) or d_model (attention models)",
    )
    parser.add_argument("--n-heads", type=int, default=8, help="attention heads (num_attn_heads)")
    parser.add_argument(
        "--n-blocks",
        type=int,
        default=1,
        help="attention blocks (SAKT num_en, AKT/simpleKT n_blocks)",
    )
    parser.add_argument(
        "--d-ff",
        type=int,
        default=None,
        help="feed-forward width (AKT/simpleKT d_ff; SAKT's is fixed at --embedding-size)",
    )
    parser.add_argument(
        "--hidden-size",
        type=int,
        default=512,
        help="first output layer (final_fc_dim); AKT's second is fixed at 256, simpleKT's is half",
    )
    parser.add_argument("--dropout", type=float, default=0.2, help="dropout")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--batch-size", type=int, default=256, help="sequences per batch")
    parser.add_argument("--max-length", type=int, default=200, help="pyKT maxlen")
    parser.add_argument("--max-epochs", type=int, default=200, help="most epochs (pyKT: 200)")
    parser.add_argument(
        "--patience", type=int, default=10, help="epochs after the best before stopping (pyKT: 10)"
    )
    parser.add_argument("--seed", type=int, default=0, help="torch seed")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--out", default="runs/kt/reference-pykt", help="output folder")
    args = parser.parse_args()
    # Imported after parsing so that --help works outside the reference venv.
    # pykt-toolkit 0.0.38 does `from torch.cuda import FloatTensor, LongTensor` and builds its data
    # with them, which fails on a CPU-only torch; alias the CPU types before importing it.
    torch.cuda.FloatTensor = torch.FloatTensor
    torch.cuda.LongTensor = torch.LongTensor
    from pykt.datasets.data_loader import KTDataset
    from pykt.models.evaluate_model import evaluate
    from pykt.models.train_model import model_forward
    from pykt.preprocess.split_datasets import generate_sequences

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    with tempfile.TemporaryDirectory() as folder:
        train_valid = pd.read_csv(args.train_valid)
        test = pd.read_csv(args.test)
        keys = ["fold", "uid", "concepts", "responses"]
        inputs = ["concepts"]
        if args.model != "dkt":
            for frame in (train_valid, test):
                if "questions" not in frame.columns:
                    frame["questions"] = frame["concepts"]
            keys, inputs = keys + ["questions"], ["questions", "concepts"]
        generate_sequences(train_valid, keys, maxlen=args.max_length).to_csv(
            os.path.join(folder, "train_valid_sequences.csv"), index=False
        )
        generate_sequences(test, keys, maxlen=args.max_length).to_csv(
            os.path.join(folder, "test_sequences.csv"), index=False
        )
        folds = set(train_valid["fold"].unique().tolist())
        train_set = KTDataset(
            os.path.join(folder, "train_valid_sequences.csv"),
            inputs,
            folds - {args.valid_fold},
        )
        valid_set = KTDataset(
            os.path.join(folder, "train_valid_sequences.csv"), inputs, {args.valid_fold}
        )
        test_set = KTDataset(os.path.join(folder, "test_sequences.csv"), inputs, {-1})
    n_concepts = (
        int(
            max(
                train_valid["concepts"].str.split(",").explode().astype(int).max(),
                test["concepts"].str.split(",").explode().astype(int).max(),
            )
        )
        + 1
    )
    train_loader = DataLoader(train_set, batch_size=args.batch_size)
    valid_loader = DataLoader(valid_set, batch_size=args.batch_size)
    test_loader = DataLoader(test_set, batch_size=args.batch_size)
    model = build_model(args, n_concepts)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)

    history, best_auc, best_epoch, test_auc, test_acc = [], 0.0, -1, float("nan"), float("nan")
    for epoch in range(1, args.max_epochs + 1):
        started, cpu_started = time.perf_counter(), time.process_time()
        losses = []
        for data in train_loader:  # pykt.models.train_model.train_model, minus logging
            model.train()
            loss = model_forward(model, data)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        train_seconds, train_cpu_seconds = (
            time.perf_counter() - started,
            time.process_time() - cpu_started,
        )
        started = time.perf_counter()
        valid_auc, valid_acc = evaluate(model, valid_loader, args.model)
        if valid_auc > best_auc + 1e-3:
            best_auc, best_epoch = valid_auc, epoch
            test_auc, test_acc = evaluate(model, test_loader, args.model)
        history.append(
            {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)),
                "train_seconds": train_seconds,
                "train_cpu_seconds": train_cpu_seconds,
                "valid_auc": float(valid_auc),
                "eval_seconds": time.perf_counter() - started,
            }
        )
        print(json.dumps(history[-1]), flush=True)
        if epoch - best_epoch >= args.patience:
            break
    summary = {
        "model": f"pykt-{args.model}",
        "pykt_version": pykt_version(),
        "pykt_module": sys.modules[type(model).__module__].__file__,
        "test_auc": float(test_auc),
        "test_acc": float(test_acc),
        "best_epoch": best_epoch,
        "best_valid_auc": float(best_auc),
        "epochs_run": len(history),
        "seconds_per_epoch": float(np.mean([row["train_seconds"] for row in history])),
        "cpu_seconds_per_epoch": float(np.mean([row["train_cpu_seconds"] for row in history])),
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "n_train_sequences": len(train_set),
        "n_test_sequences": len(test_set),
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "history": history,
        "settings": vars(args),
    }
    with open(os.path.join(args.out, "summary.json"), "w") as file:
        json.dump(summary, file, indent=2)
    print(
        json.dumps(
            {
                key: summary[key]
                for key in ("test_auc", "best_epoch", "seconds_per_epoch", "peak_memory_mb")
            }
        )
    )


if __name__ == "__main__":
    main()
