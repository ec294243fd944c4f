"""Response time of one tutoring step of the web page: p50/p95 over 200 requests, 2 clients at once.

python scripts/bench_web.py                       # the default model, every policy
python scripts/bench_web.py --policies dqn,expectimax --requests 400 --out runs/bench_web

Starts scripts/serve.py on a free local port in a child process (the default model is
trained first if the cache does not hold it), and has --clients clients, each its own
browser session, answer the recommended exercise (POST /api/tutor/answer, which returns the
whole page state) --requests times in all, concurrently. Beside it, the reference: the same
steps called in this process with no HTTP and no concurrency. The goal (issue 16): p95 under
50 ms. Writes OUT/summary.json with the figures, the settings and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from riley_gym.web.bench import ServerProcess, percentiles, time_steps, time_steps_in_process
from riley_gym.web.model import model_for_serving

GOAL_P95_MS = 50.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="a saved web model folder (default: cache)")
    parser.add_argument("--policies", default=None, help="comma-separated (default: all)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per policy")
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients")
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed requests per policy first (lazy imports)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the model and the answers")
    parser.add_argument("--out", default="runs/bench_web", help="output folder (summary.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)  # as the server runs
    model = model_for_serving(args.model, None, None, args.seed)
    policies = args.policies.split(",") if args.policies else model.policies
    unknown = sorted(set(policies) - set(model.policies))
    if unknown:
        print(f"bench_web.py: unknown policies {unknown}; allowed: {model.policies}")
        return 2
    length = model.config.session_length
    load_before = list(os.getloadavg())
    rows = {}
    with ServerProcess(args.model or model.info["folder"]) as server:
        for policy in tqdm(policies, desc="policies"):
            # Untimed steps first: the first requests pay for lazy imports and caches.
            time_steps(server.url, policy, args.warmup, args.clients, length, args.seed)
            http = time_steps(server.url, policy, args.requests, args.clients, length, args.seed)
            direct = time_steps_in_process(model, policy, args.requests, length, args.seed)
            rows[policy] = {"http": percentiles(http), "in_process": percentiles(direct)}
    print(f"\none tutoring step, {args.requests} requests, {args.clients} clients at once:")
    print(
        f"{'policy':12s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}   in-process p50 p95   ratio"
    )
    for policy, row in rows.items():
        http, direct = row["http"], row["in_process"]
        ratio = http["p50_ms"] / max(direct["p50_ms"], 1e-9)
        row["p50_ratio_http_to_in_process"] = ratio
        print(
            f"{policy:12s} {http['p50_ms']:8.1f} {http['p95_ms']:8.1f} {http['max_ms']:8.1f}"
            f"   {direct['p50_ms']:13.1f} {direct['p95_ms']:4.1f}   {ratio:5.1f}x"
        )
    worst = max(row["http"]["p95_ms"] for row in rows.values())
    met = worst < GOAL_P95_MS
    print(f"worst p95 {worst:.1f} ms: goal p95 < {GOAL_P95_MS:.0f} ms {'met' if met else 'MISSED'}")
    load_after = list(os.getloadavg())
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "policies": rows,
        "worst_p95_ms": worst,
        "goal_p95_ms": GOAL_P95_MS,
        "goal_met": met,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cpu_count": os.cpu_count(),
        "model_folder": args.model or model.info["folder"],
        "model_settings": model.config.to_dict(),
        "settings": vars(args),
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
