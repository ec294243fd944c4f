"""The README's web latency table, written from a stored ``scripts/bench_web.py`` run.

``stored_web_bench`` keeps what the table needs of the run's ``summary.json`` (each policy's
HTTP and in-process percentiles, the goal, the load average around the run) with the command
that made it; ``render_web_blocks`` gives the ``web-latency`` table and its
``web-latency-commands`` line. One run is shown: the latest by date, then by name.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REQUIRED", "stored_web_bench", "render_web_blocks"]

REQUIRED = ("command", "date", "policies", "goal_p95_ms", "worst_p95_ms", "load_average")
# The menu's words for a policy whose name alone would mislead (expectimax's search settings).
POLICY_TITLES = {"expectimax": "expectimax (horizon 2, beam 2)"}


def stored_web_bench(summary: dict[str, Any], command: str, date: str) -> dict[str, Any]:
    """What the README needs of a ``bench_web.py`` run's ``summary.json``, with its command."""
    keep = ("p50_ms", "p95_ms", "max_ms")
    return {
        "command": command,
        "date": date,
        "policies": {
            name: {
                "http": {key: row["http"][key] for key in keep},
                "in_process": {key: row["in_process"][key] for key in ("p50_ms", "p95_ms")},
            }
            for name, row in summary["policies"].items()
        },
        "goal_p95_ms": summary["goal_p95_ms"],
        "worst_p95_ms": summary["worst_p95_ms"],
        "load_average": [summary["load_average_before"][0], summary["load_average_after"][0]],
        "requests": summary["settings"]["requests"],
        "clients": summary["settings"]["clients"],
    }


def _latest(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    name = max(runs, key=lambda key: (runs[key]["date"], key))
    return runs[name]


def web_table(runs: dict[str, dict[str, Any]]) -> str:
    """One row per policy: HTTP p50, p95 and max, and the in-process p50 / p95 (ms)."""
    run = _latest(runs)
    lines = [
        "| policy | p50 ms | p95 ms | max ms | in-process p50 / p95 ms |",
        "|---|---|---|---|---|",
    ]
    for name, row in run["policies"].items():
        http, direct = row["http"], row["in_process"]
        lines.append(
            f"| {POLICY_TITLES.get(name, name)} | {http['p50_ms']:.1f} | {http['p95_ms']:.1f} | "
            f"{http['max_ms']:.1f} | {direct['p50_ms']:.1f} / {direct['p95_ms']:.1f} |"
        )
    worst = max(run["policies"], key=lambda name: run["policies"][name]["http"]["p95_ms"])
    met = "met" if run["worst_p95_ms"] < run["goal_p95_ms"] else "missed"
    lines += [
        "",
        f"Goal p95 under {run['goal_p95_ms']:.0f} ms: {met} (worst: {worst}, "
        f"{run['worst_p95_ms']:.1f} ms); {run['requests']} requests from {run['clients']} "
        f"clients per policy; load average {run['load_average'][0]:.1f} before and "
        f"{run['load_average'][1]:.1f} after the run ({run['date']}).",
    ]
    return "\n".join(lines)


def render_web_blocks(runs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """``web-latency`` and ``web-latency-commands``; nothing without a stored run."""
    if not runs:
        return {}
    run = _latest(runs)
    return {
        "web-latency": web_table(runs),
        "web-latency-commands": f"```bash\n{run['command']}  # {run['date']}\n```",
    }
