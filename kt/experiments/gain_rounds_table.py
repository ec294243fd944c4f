"""The README's table of the gain model's on-policy rounds (``tutor.py --gain-rounds N``).

Each setting (curriculum, dynamics) is run twice with the same seed and policies, once with
``--gain-rounds 0`` and once with N > 0 rounds; both runs are stored with ``stored_rounds_run``
in ``docs/results/tutoring-rounds/``. The rounds change only the gain model, so the heuristics
and the oracle must score the same in both runs of a pair: ``pair_runs`` refuses a pair where
they do not (the runs were not made on the same students). The planners' figures then read
"0 rounds → N rounds".
"""

from __future__ import annotations

from typing import Any

from riley_gym.kt.experiments.readme_tables import ORDER, stored_run

__all__ = ["REQUIRED", "stored_rounds_run", "pair_runs", "rounds_table", "rounds_commands"]

PLANNERS = ("greedy", "expectimax")
# Policies that never read the gain model: equal in both runs of a pair.
UNCHANGED = ("random", "blocked", "interleaved", "mastery", "zpd", "oracle")
REQUIRED = ("command", "role", "date", "torch_threads", "settings", "policies", "verdicts",
            "seconds_total", "seconds_gain_model")  # fmt: skip


def stored_rounds_run(
    summary: dict[str, Any], command: str, role: str, date: str
) -> dict[str, Any]:
    """``stored_run`` of a ``tutor.py`` run, plus the seconds its gain model took to train."""
    return {**stored_run(summary, command, role, date),
            "seconds_gain_model": summary["seconds"]["gain_model"]}  # fmt: skip


def pair_runs(runs: dict[str, dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(0 rounds, N rounds) per setting: the tuning setting first, then Riley, chain, wide, tree.

    Raises:
        ValueError: a setting without exactly one run of each kind, or a pair whose heuristics
            or oracle differ (naming the stored files).
    """
    settings: dict[tuple[str, str], dict[bool, tuple[str, dict[str, Any]]]] = {}
    for name, run in runs.items():
        key = (run["settings"]["curriculum"], run["settings"]["dynamics"])
        rounds = run["settings"].get("gain_rounds", 0) > 0
        if rounds in settings.setdefault(key, {}):
            raise ValueError(
                f"stored rounds runs {settings[key][rounds][0]!r} and {name!r}: two runs of "
                f"{key} with {'some' if rounds else 'no'} gain rounds; keep one"
            )
        settings[key][rounds] = (name, run)
    pairs = []
    for key, pair in settings.items():
        if set(pair) != {False, True}:
            names = [name for name, _ in pair.values()]
            raise ValueError(f"stored rounds runs {names}: {key} needs a run with --gain-rounds 0 "
                             "and one with --gain-rounds N > 0")  # fmt: skip
        (before_name, before), (after_name, after) = pair[False], pair[True]
        changed = [
            policy for policy in UNCHANGED
            if policy in before["policies"]
            and before["policies"][policy] != after["policies"].get(policy)
        ]  # fmt: skip
        if changed:
            raise ValueError(
                f"stored rounds runs {before_name!r} and {after_name!r}: {changed} differ, but "
                "gain rounds change only the planners (were they run on the same students?)"
            )
        pairs.append((before, after))

    def rank(pair: tuple[dict[str, Any], dict[str, Any]]) -> tuple[int, int, str]:
        settings = pair[0]["settings"]
        curriculum = settings["curriculum"]
        order = ORDER.index(curriculum) if curriculum in ORDER else len(ORDER)
        return (pair[0]["role"] != "tuning", order, settings["dynamics"])

    return sorted(pairs, key=rank)


def _below_random(run: dict[str, Any]) -> str:
    return ", ".join(run["verdicts"]["below_random"]) or "none"


def rounds_table(runs: dict[str, dict[str, Any]]) -> str:
    """One row per setting: random, best heuristic, each planner 0 → N rounds, oracle, and the
    best planner after the rounds against the best heuristic (paired on the same students)."""
    pairs = pair_runs(runs)
    rounds = sorted({after["settings"]["gain_rounds"] for _, after in pairs})
    n = "/".join(str(value) for value in rounds)
    lines = [
        "| setting | random | best heuristic | "
        + " | ".join(f"{planner}, 0 → {n} rounds" for planner in PLANNERS)
        + f" | oracle | best planner after {n} rounds minus best heuristic (paired 95% CI) | "
        f"planners below random, 0 → {n} rounds | gain model training, 0 → {n} rounds |",
        "|---" * (7 + len(PLANNERS)) + "|",
    ]
    for before, after in pairs:
        settings, policies = before["settings"], before["policies"]
        heuristic = after["verdicts"]["best_heuristic"]
        planner = after["verdicts"]["best_kt_policy"]
        versus = after["verdicts"]["kt_vs_heuristics"][heuristic]
        planners = [
            f"{before['policies'][name]['post_test_mean']:.3f} → "
            f"{after['policies'][name]['post_test_mean']:.3f}"
            for name in PLANNERS
        ]
        chosen = " (chosen on)" if before["role"] == "tuning" else ""
        lines.append(
            f"| {settings['curriculum']}, {settings['dynamics']}{chosen} | "
            f"{policies['random']['post_test_mean']:.3f} | "
            f"{heuristic} {policies[heuristic]['post_test_mean']:.3f} | "
            + " | ".join(planners)
            + f" | {policies['oracle']['post_test_mean']:.3f} | "
            f"{planner} {versus['diff']:+.4f} ± {versus['ci95']:.4f} | "
            f"{_below_random(before)} → {_below_random(after)} | "
            f"{before['seconds_gain_model']:.0f} s → {after['seconds_gain_model']:.0f} s |"
        )
    return "\n".join(lines)


def rounds_commands(runs: dict[str, dict[str, Any]]) -> str:
    """The command behind each stored rounds run, in the table's order."""
    lines = ["```bash"]
    for pair in pair_runs(runs):
        lines += [f"{run['command']}  # {run['date']}, {run['torch_threads']} thread(s), "
                  f"{run['seconds_total'] / 60:.1f} min" for run in pair]  # fmt: skip
    return "\n".join([*lines, "```"])
