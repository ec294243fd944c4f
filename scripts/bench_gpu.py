"""The same DKT and DQN runs on the GPU and on the CPU of one machine, side by side.

python scripts/bench_gpu.py [--cpu-threads 2] [--dkt-epochs 2] [--dqn-steps 6000] [--quick]

DKT: scripts/train_kt.py on pyKT's ASSISTments 2015 split with pyKT's settings (embedding
200, hidden 200, dropout 0.2, lr 1e-3, batch 256, windows of 200), --dkt-epochs epochs (no
early stop), once with --device cuda and once on the CPU with --cpu-threads torch threads:
seconds per training epoch and test AUC of each. DQN: scripts/train_agent.py on
ALE/Breakout-v5 with the atari preset (a replay of 100k frames) for --dqn-steps environment
steps (learning from step --dqn-learning-starts on), both devices: environment steps per
second, which include the emulator's work, the same on both. Each run is its own subprocess,
one after the other. Prints the table and the GPU's speed-up over the CPU; writes
DIR/summary.json and DIR/bench.csv. --device names the accelerated side (default cuda; cpu
only to check this script on a machine without a GPU). --quick: every 25th student, 1 epoch,
600 steps (a smoke test, not a measurement).
"""

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from riley_gym import nets
from riley_gym.kt.data import default_data_dir
from riley_gym.kt.experiments.benchmarks import SHARED, pykt_files, run

DKT_SETTINGS = [
    "--model",
    "dkt",
    "--protocol",
    "pykt",
    "--hidden-size",
    "200",
    *SHARED,
    "--seed",
    "0",
    "--no-progress",
]
DQN_SETTINGS = [
    "--env",
    "ALE/Breakout-v5",
    "--preset",
    "atari",
    "--seed",
    "0",
    "--no-progress",
    "--final-eval-episodes",
    "1",
    "--buffer-size",
    "100000",
    "--save-replay",
    "false",
]


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
        "--device",
        default="cuda",
        help="the accelerated side: cuda or cuda:N (cpu only to check this script)",
    )
    parser.add_argument(
        "--cpu-threads",
        type=int,
        default=None,
        help="torch threads of the CPU side (default: free cores now)",
    )
    parser.add_argument(
        "--dkt-epochs", type=int, default=2, help="DKT training epochs of each side"
    )
    parser.add_argument(
        "--dqn-steps", type=int, default=6000, help="Breakout environment steps of each side"
    )
    parser.add_argument(
        "--dqn-learning-starts", type=int, default=1000, help="steps before the DQN's first update"
    )
    parser.add_argument(
        "--quick", action="store_true", help="every 25th student, 1 epoch, 600 steps: a smoke test"
    )
    parser.add_argument("--out", default="runs/bench_gpu", help="output folder")
    args = parser.parse_args()
    try:
        nets.select_device(args.device)
    except ValueError as error:
        raise SystemExit(f"bench_gpu: {error}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    threads = args.cpu_threads or nets.free_cores()
    train_valid, test = pykt_files(args.train_valid, args.test, out, args.quick)
    epochs, steps, learning_starts = (
        (1, 600, 200) if args.quick else (args.dkt_epochs, args.dqn_steps, args.dqn_learning_starts)
    )
    sides = {
        "gpu": ["--device", args.device, "--threads", str(threads)],
        "cpu": ["--device", "cpu", "--threads", str(threads)],
    }
    jobs = {}
    for side, device in sides.items():
        jobs[f"dkt-{side}"] = [
            sys.executable,
            "scripts/train_kt.py",
            "--data",
            train_valid,
            "--test",
            test,
            *DKT_SETTINGS,
            *device,
            "--max-epochs",
            str(epochs),
            "--patience",
            str(epochs),
            "--out",
            str(out / f"dkt-{side}"),
        ]
        jobs[f"dqn-{side}"] = [
            sys.executable,
            "scripts/train_agent.py",
            *DQN_SETTINGS,
            *device,
            "--total-steps",
            str(steps),
            "--learning-starts",
            str(learning_starts),
            "--eval-interval",
            str(steps),
            "--eval-episodes",
            "1",
            "--checkpoint-interval",
            str(steps),
            "--out",
            str(out / f"dqn-{side}"),
        ]
    results = {}
    for name, command in tqdm(jobs.items(), desc="bench", unit="run"):
        run(command, out / f"{name}.log")
        results[name] = json.loads((out / name / "summary.json").read_text())
    rows = [
        {
            "run": "dkt",
            "side": side,
            "seconds_per_epoch": results[f"dkt-{side}"]["seconds_per_epoch"],
            "test_auc": results[f"dkt-{side}"]["test_auc"],
        }
        for side in sides
    ]
    rows += [
        {"run": "dqn", "side": side, "steps_per_second": results[f"dqn-{side}"]["steps_per_second"]}
        for side in sides
    ]
    table = pd.DataFrame(rows)
    table.to_csv(out / "bench.csv", index=False)
    ratios = {
        "dkt_speedup_per_epoch": results["dkt-cpu"]["seconds_per_epoch"]
        / results["dkt-gpu"]["seconds_per_epoch"],
        "dqn_speedup_steps_per_second": results["dqn-gpu"]["steps_per_second"]
        / results["dqn-cpu"]["steps_per_second"],
    }
    card = (
        torch.cuda.get_device_name(nets.select_device(args.device))
        if args.device.startswith("cuda")
        else "cpu"
    )
    summary = {
        "device": args.device,
        "card": card,
        "cpu_threads": threads,
        "quick": args.quick,
        "dkt_epochs": epochs,
        "dqn_steps": steps,
        "dqn_learning_starts": learning_starts,
        "runs": results,
        "ratios": ratios,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    print(f"{card} against the CPU with {threads} torch threads")
    print(table.to_string(index=False))
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    print(f"wrote {out}/summary.json")


if __name__ == "__main__":
    main()
