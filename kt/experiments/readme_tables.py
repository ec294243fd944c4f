"""README result tables written from stored runs, so that a table cannot drift from its runs.

A finished ``scripts/tutor.py`` run is stored with ``stored_run`` (its figures, settings, the
command that made it and whether its settings were chosen on it: ``role`` "tuning" or "held-out")
as one JSON file under ``docs/results/tutoring/``. ``render_blocks`` turns the stored runs into
the README's markdown tables, and ``replace_blocks`` writes each between its markers::

    <!-- table:NAME (written by scripts/readme_tables.py; do not edit) -->
    ...
    <!-- /table:NAME -->

A block may sit indented inside a list item: its body is written with the opening marker's
indentation. The other kinds of stored result have their own modules (``gain_rounds_table``,
``kt_tables``); ``readme_results`` gathers every kind's blocks.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

from riley_gym.kt.experiments.stored_results import read_folder

__all__ = ["ROLES", "stored_run", "load_runs", "render_blocks", "replace_blocks"]

ROLES = ("tuning", "held-out")
ORDER = ("riley", "chain", "wide", "tree")
POLICY_NAMES = {
    "random": "random",
    "blocked": "blocked",
    "interleaved": "interleaved",
    "mastery": "mastery threshold (BKT)",
    "zpd": "ZPD",
    "greedy": "greedy on the gain model (DKT state)",
    "expectimax": "expectimax on the gain model (DKT state)",
    "rollout": "rollout: the best heuristic improved on DKT's state",
    "dqn": "DQN tutor on the DKT's estimate",
    "oracle": "oracle (reads the hidden state; bound only)",
}
# What load_runs requires of every stored tutoring run.
REQUIRED = ("command", "role", "date", "torch_threads", "settings", "policies", "verdicts",
            "seconds_total")  # fmt: skip
_BLOCK = re.compile(
    r"(?P<indent>[ \t]*)(?P<open><!-- table:(?P<name>[\w-]+) "
    r"\(written by scripts/readme_tables.py; do not edit\) -->\n)"
    r"(?P<body>.*?)(?P=indent)(?P<close><!-- /table:(?P=name) -->)",
    re.S,
)


def stored_run(summary: dict[str, Any], command: str, role: str, date: str) -> dict[str, Any]:
    """What the README needs of a tutoring run's ``summary.json``, with how it was made."""
    if role not in ROLES:
        raise ValueError(f"stored_run: role must be one of {ROLES}, got {role!r}")
    keep = ("post_test_mean", "post_test_ci95", "gap_closed")
    return {
        "command": command,
        "role": role,
        "date": date,
        "torch_threads": summary["torch_threads"],
        "settings": summary["settings"],
        "calibrated_from": summary.get("data"),
        "policies": {
            name: {key: row.get(key) for key in keep} for name, row in summary["policies"].items()
        },
        "verdicts": summary["verdicts"],
        "seconds_total": summary["seconds"]["total"],
    }


def load_runs(folder: str | Path) -> dict[str, dict[str, Any]]:
    """name (the file's stem) -> stored run, for every JSON file in ``folder``.

    Riley's curriculum first, then the other bundled ones, then the rest by name.
    """

    def rank(path: Path) -> tuple[int, str]:
        prefix = path.stem.split("-")[0]
        return (ORDER.index(prefix) if prefix in ORDER else len(ORDER), path.stem)

    return read_folder(folder, REQUIRED, rank)


def _cell(row: dict[str, Any] | None, bold: bool = False) -> str:
    if row is None:
        return ""
    mean = f"**{row['post_test_mean']:.3f}**" if bold else f"{row['post_test_mean']:.3f}"
    return f"{mean} ± {row['post_test_ci95']:.3f}"


def _best_taught(policies: dict[str, Any]) -> str:
    return max((name for name in policies if name != "oracle"),
               key=lambda name: policies[name]["post_test_mean"])  # fmt: skip


def policy_table(runs: dict[str, dict[str, Any]], names: list[str]) -> str:
    """Policies down, the named runs across: post-test ± 95% CI, the best non-oracle in bold."""
    columns = [runs[name] for name in names]
    header = "| policy | " + " | ".join(_column_title(run) for run in columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    order = [name for name in POLICY_NAMES if any(name in run["policies"] for run in columns)]
    best = [_best_taught(run["policies"]) for run in columns]
    for policy in order:
        cells = [
            _cell(run["policies"].get(policy), policy == bold) for run, bold in zip(columns, best)
        ]
        lines.append(f"| {POLICY_NAMES[policy]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _column_title(run: dict[str, Any]) -> str:
    settings = run["settings"]
    if run.get("calibrated_from"):
        return f"calibrated to {Path(run['calibrated_from']).name}"
    return f"{settings['curriculum']}, {settings['dynamics']}"


def verdict_table(runs: dict[str, dict[str, Any]]) -> str:
    """One row per run: best heuristic, best LSTM policy, their paired difference, gap closed."""
    lines = [
        "| curriculum, dynamics | settings chosen on it? | best heuristic | best LSTM policy | "
        "LSTM minus heuristic (paired 95% CI) | gap to oracle closed | beats every heuristic? | "
        "LSTM policies below random |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs.values():
        policies, verdicts = run["policies"], run["verdicts"]
        heuristic, kt = verdicts["best_heuristic"], verdicts["best_kt_policy"]
        versus = verdicts["kt_vs_heuristics"][heuristic]
        gap = verdicts["gap_closed"].get(kt)
        lines.append(
            f"| {_column_title(run)} | {'yes (tuning)' if run['role'] == 'tuning' else 'no'} | "
            f"{heuristic} {policies[heuristic]['post_test_mean']:.3f} | "
            f"{kt} {policies[kt]['post_test_mean']:.3f} | "
            f"{versus['diff']:+.4f} ± {versus['ci95']:.4f} | "
            f"{'' if gap is None else f'{gap:.0%}'} | "
            f"{'yes' if verdicts['beats_every_heuristic'] else 'no'} | "
            f"{', '.join(verdicts['below_random']) or 'none'} |"
        )
    return "\n".join(lines)


def commands(runs: dict[str, dict[str, Any]]) -> str:
    """The command behind each stored run, one line each."""
    lines = ["```bash"]
    lines += [f"{run['command']}  # {run['date']}, {run['torch_threads']} thread(s), "
              f"{run['seconds_total'] / 60:.1f} min" for run in runs.values()]  # fmt: skip
    return "\n".join([*lines, "```"])


def render_blocks(runs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Block name -> markdown, from the stored runs (``riley-bkt`` and ``riley-irt`` lead)."""
    riley = [name for name in ("riley-bkt", "riley-irt") if name in runs]
    blocks = {"tutoring-verdicts": verdict_table(runs), "tutoring-commands": commands(runs)}
    if riley:
        blocks["tutoring-riley"] = policy_table(runs, riley)
    blocks["tutoring-all"] = policy_table(runs, list(runs))
    return blocks


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each marked block's body replaced; every block must be marked exactly once.

    A block not in ``blocks`` keeps its body. Each body line is indented as its opening marker.
    """
    found = [match["name"] for match in _BLOCK.finditer(text)]
    missing = sorted(set(blocks) - set(found))
    twice = sorted({name for name in found if found.count(name) > 1})
    if missing or twice:
        raise ValueError(
            f"README markers: missing for {missing}, repeated for {twice}; each table needs "
            "'<!-- table:NAME (written by scripts/readme_tables.py; do not edit) -->' and "
            "'<!-- /table:NAME -->' once"
        )

    def body(match: re.Match[str]) -> str:
        if match["name"] not in blocks:
            return match[0]
        new = textwrap.indent(blocks[match["name"]], match["indent"])
        return match["indent"] + match["open"] + new + "\n" + match["indent"] + match["close"]

    return _BLOCK.sub(body, text)
