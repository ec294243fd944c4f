"""The README's knowledge tracing tables, from stored ``scripts/train_kt.py`` runs.

A finished single-model run is stored with ``stored_kt_run`` (its test and validation AUCs,
epochs, timing, the command that made it and, for the pyKT protocol, its score from
``scripts/evaluate_kt.py --pykt-windows`` with that command) as one JSON file under
``docs/results/kt/``. ``kt_table`` renders test AUC by data set and model, ``attention_table``
the attention tracers against pyKT's published figures, ``kt_commands`` every run's command.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

__all__ = [
    "DATASETS",
    "PYKT_PUBLISHED",
    "REQUIRED",
    "stored_kt_run",
    "kt_table",
    "attention_table",
    "kt_commands",
]

# Test AUC on ASSISTments 2015 under the pyKT protocol (windows of 200, no window's first row),
# as published in Liu et al. (2022), pyKT: A Python Library to Benchmark Deep Learning based
# Knowledge Tracing Models, NeurIPS Datasets and Benchmarks. ../shared/data/README.md states
# DKT's 0.7271; SAKT's, AKT's and simpleKT's are the paper's as first quoted in this README
# (commits fec418e and cb25013).
PYKT_PUBLISHED = {"dkt": 0.7271, "sakt": 0.7114, "akt": 0.7281, "simplekt": 0.7248}
PYKT_SOURCE = "Liu et al. 2022"
# (the training log's folder and file, protocol) -> the README's name for the row.
DATASETS = {
    ("synthetic5/naive_c5_q50_s4000_v0.csv", "dkt-synthetic"): "Synthetic-5 v0, DKT paper split",
    ("synthetic5/naive_c5_q50_s4000_v1.csv", "dkt-synthetic"): "Synthetic-5 v1, DKT paper split",
    ("assist2009_builder/builder_train.csv", "holdout"): "ASSISTments 2009 builder split",
    ("assist2015_pykt/train_valid.csv", "pykt"): "ASSISTments 2015, pyKT protocol",
}
ATTENTION = {"sakt": "SAKT", "akt": "AKT", "simplekt": "simpleKT"}
KT_MODELS = ("dkt", *ATTENTION, "bkt", "pfa", "irt", "marginal")
_MODEL_TITLES = {"dkt": "DKT", **ATTENTION, "bkt": "BKT", "pfa": "PFA", "irt": "IRT",
                 "marginal": "marginal"}  # fmt: skip
# The attention rows' own table lists the commands of the attention runs on this data set.
_ATTENTION_DATASET = ("assist2015_pykt/train_valid.csv", "pykt")
REQUIRED = ("command", "date", "model", "protocol", "data", "seed", "threads", "test_auc",
            "best_valid_auc", "epochs_run", "best_epoch", "stopped_early", "seconds_per_epoch",
            "wall_seconds", "pykt_windows")  # fmt: skip
# train_kt.py flags every attention row shares (with their values), left out of its settings.
_SHARED_FLAGS = {"--model", "--data", "--test", "--protocol", "--threads", "--out"}
_SHARED_SWITCHES = {"--no-progress", "--overwrite"}


def stored_kt_run(
    summary: dict[str, Any],
    command: str,
    date: str,
    evaluation: dict[str, Any] | None = None,
    evaluation_command: str | None = None,
    variant: str | None = None,
) -> dict[str, Any]:
    """What the README needs of a single-model ``train_kt.py`` run's ``summary.json``.

    Args:
        summary: the run's ``summary.json``.
        command: the command that made it.
        date: when it was made (YYYY-MM-DD).
        evaluation: ``evaluate_kt.py --pykt-windows``'s ``summary.json`` on the test log, if scored.
        evaluation_command: the command that scored it (required with ``evaluation``).
        variant: words the table adds after its figure (e.g. "with concept mixing"), for a
            model shown in several ways on one data set; seeds of one variant share it.

    Raises:
        ValueError: a multi-model run, an evaluation not made with ``--pykt-windows`` or of
            another model, or an evaluation without its command.
    """
    if "model" not in summary or "," in str(summary["model"]) or summary["model"] == "all":
        raise ValueError(f"stored_kt_run: store one model per run, got {summary.get('model')!r}")
    windows = None
    if evaluation is not None:
        scoring, model = evaluation.get("scoring"), evaluation.get("model")
        if scoring != "pykt-windows" or model != summary["model"]:
            raise ValueError(
                "stored_kt_run: the evaluation must be evaluate_kt.py --pykt-windows of the same "
                f"model, got scoring {scoring!r} of {model!r}"
            )
        if not evaluation_command:
            raise ValueError("stored_kt_run: an evaluation needs the command that made it")
        keep = ("test_auc", "test_n", "test_n_students", "data")
        windows = {"command": evaluation_command, **{key: evaluation[key] for key in keep}}
    keep = ("model", "protocol", "data", "test", "seed", "threads", "test_auc",
            "test_auc_after_first_attempt", "test_n", "best_valid_auc", "epochs_run",
            "best_epoch", "stopped_early", "seconds_per_epoch", "wall_seconds")  # fmt: skip
    return {"command": command, "date": date, **{key: summary.get(key) for key in keep},
            "pykt_windows": windows, "variant": variant}  # fmt: skip


def _dataset(run: dict[str, Any]) -> str | None:
    path = Path(run["data"])
    return DATASETS.get((f"{path.parent.name}/{path.name}", run["protocol"]))


def _cells(runs: dict[str, dict[str, Any]], models: tuple[str, ...]) -> dict[tuple, list]:
    """(data set, model) -> [(file stem, run), ...]; two runs of one variant and seed are refused.

    A cell may show several variants of a model (``variant``, e.g. "with concept mixing") and
    several seeds of one variant.
    """
    cells: dict[tuple, list] = {}
    for name, run in runs.items():
        key = (_dataset(run), run["model"])
        if key[0] is None or run["model"] not in models:
            continue
        for other, earlier in cells.get(key, []):
            if (earlier.get("variant"), earlier["seed"]) == (run.get("variant"), run["seed"]):
                raise ValueError(
                    f"stored KT runs {other!r} and {name!r} are both {key}, variant "
                    f"{run.get('variant')!r}, seed {run['seed']}; keep one"
                )
        cells.setdefault(key, []).append((name, run))
    return cells


def _auc(value: float, model: str) -> str:
    # The neural tracers' settings differ by thousandths; the baselines' figures are shown as
    # the README had them.
    return f"{value:.4f}" if model == "dkt" or model in ATTENTION else f"{value:.3f}"


def _kt_cell(entries: list[tuple[str, dict[str, Any]]]) -> str:
    """Each variant's test AUC (a range over its seeds), then its pyKT-window score if any."""
    variants: dict[str | None, list[dict[str, Any]]] = {}
    for _, run in entries:
        variants.setdefault(run.get("variant"), []).append(run)
    parts = []
    for variant, group in sorted(variants.items(), key=lambda item: item[0] is not None):
        model = group[0]["model"]
        aucs = sorted(run["test_auc"] for run in group)
        text = _auc(aucs[0], model)
        if len(group) > 1:
            seeds = ", ".join(str(run["seed"]) for run in sorted(group, key=lambda r: r["seed"]))
            if _auc(aucs[-1], model) != text:
                text = f"{text}-{_auc(aucs[-1], model)}"
            text = f"{text} (seeds {seeds})"
        windows = [run["pykt_windows"] for run in group if run["pykt_windows"] is not None]
        if len(group) == 1 and windows:
            text += f"; {windows[0]['test_auc']:.4f} in pyKT's scoring"
        parts.append(f"{text} {variant}" if variant else text)
    return "; ".join(parts)


def kt_table(runs: dict[str, dict[str, Any]]) -> str:
    """Test AUC, data sets down (only those with a stored run), DKT, the attention tracers and
    the baselines across."""
    cells = _cells(runs, KT_MODELS)
    lines = ["| data, protocol | " + " | ".join(_MODEL_TITLES[m] for m in KT_MODELS) + " |",
             "|---" * (len(KT_MODELS) + 1) + "|"]  # fmt: skip
    for dataset in DATASETS.values():
        row = [cells.get((dataset, model), []) for model in KT_MODELS]
        if any(row):
            lines.append(f"| {dataset} | " + " | ".join(_kt_cell(cell) for cell in row) + " |")
    return "\n".join(lines)



def settings_flags(command: str) -> str:
    """The ``train_kt.py`` flags of ``command`` that are not shared by every attention row."""
    words = shlex.split(command)
    words = words[next(i for i, word in enumerate(words) if word.endswith("train_kt.py")) + 1:]
    kept, skipping = [], False
    for word in words:
        if word.startswith("--"):
            skipping = word in _SHARED_FLAGS or word in _SHARED_SWITCHES
            if word in _SHARED_SWITCHES:
                skipping = False
                continue
        if not skipping:
            kept.append(word)
    return " ".join(kept)


def attention_table(runs: dict[str, dict[str, Any]]) -> str:
    """SAKT, AKT and simpleKT on the pyKT protocol, against pyKT's published test AUC."""
    cells = _cells(runs, tuple(ATTENTION))
    dataset = DATASETS[_ATTENTION_DATASET]
    lines = [
        "| model | settings (`train_kt.py --protocol pykt --threads 1 ...`) | epochs run (best), "
        "seconds per epoch | valid AUC | test AUC (pyKT scoring) | pyKT published "
        f"({PYKT_SOURCE}) | minus pyKT |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, title in ATTENTION.items():
        if (dataset, model) not in cells:
            continue
        if len(cells[(dataset, model)]) > 1:
            names = [name for name, _ in cells[(dataset, model)]]
            raise ValueError(f"stored KT runs {names}: one {title} run per attention row")
        [(name, run)] = cells[(dataset, model)]
        if run["pykt_windows"] is None:
            raise ValueError(f"stored KT run {name!r}: an attention row needs its pyKT-window "
                             "score (--add with --evaluation)")  # fmt: skip
        test = run["pykt_windows"]["test_auc"]
        cap = ""
        if not run["stopped_early"]:
            improving = run["best_epoch"] == run["epochs_run"]
            cap = ", still improving at the epoch cap" if improving else ", at the epoch cap"
        lines.append(
            f"| {title} | `{settings_flags(run['command'])}` | "
            f"{run['epochs_run']} ({run['best_epoch']}){cap}, {run['seconds_per_epoch']:.0f} s | "
            f"{run['best_valid_auc']:.4f} | {test:.4f} | {PYKT_PUBLISHED[model]:.4f} | "
            f"{test - PYKT_PUBLISHED[model]:+.4f} |"
        )
    return "\n".join(lines)


def kt_commands(
    runs: dict[str, dict[str, Any]], models: tuple[str, ...], attention_rows: bool = False
) -> str:
    """The commands behind the stored runs of ``models`` (and their pyKT-window scoring):
    those of the attention table's rows with ``attention_rows``, every other one without."""
    datasets = list(DATASETS.values())
    attention_dataset = DATASETS[_ATTENTION_DATASET]

    def listed(run: dict[str, Any]) -> bool:
        in_attention_table = run["model"] in ATTENTION and _dataset(run) == attention_dataset
        return run["model"] in models and in_attention_table == attention_rows

    shown = sorted(
        (run for run in runs.values() if _dataset(run) is not None and listed(run)),
        key=lambda run: (datasets.index(_dataset(run)), models.index(run["model"])),
    )
    lines = ["```bash"]
    for run in shown:
        lines.append(f"{run['command']}  # {run['date']}, {run['threads']} thread(s), "
                     f"{_duration(run['wall_seconds'])}")  # fmt: skip
        if run["pykt_windows"] is not None:
            lines.append(run["pykt_windows"]["command"])
    return "\n".join([*lines, "```"])


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def render_kt_blocks(runs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Block name -> markdown for the stored KT runs (none when there are none)."""
    if not runs:
        return {}
    return {
        "kt": kt_table(runs),
        "kt-commands": kt_commands(runs, KT_MODELS),
        "kt-attention": attention_table(runs),
        "kt-attention-commands": kt_commands(runs, tuple(ATTENTION), attention_rows=True),
    }
