"""Plot one student's predicted knowledge per skill over their attempts (the DKT paper's figure 1).

python scripts/plot_knowledge.py --model RUN_DIR --data LOG [--student ID]

Loads a model saved by scripts/train_kt.py, takes one student's first --max-attempts
attempts from LOG, and after each attempt asks the model for p(correct) on a next
attempt at every skill (KnowledgeTracer.knowledge_state on the history so far; works for
every model). Rows of the heatmap are the skills the student practised, columns the
attempts labelled (skill, correct). Writes DIR/knowledge.png, knowledge.csv, summary.json.
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from riley_gym import nets
from riley_gym.kt.data import read_log
from riley_gym.kt.data.attempts import sort_canonical
from riley_gym.kt.experiments.plots import plot_knowledge_heatmap
from riley_gym.kt.models.registry import MODELS


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model",
        required=True,
        help="run folder of scripts/train_kt.py holding summary.json and model/",
    )
    parser.add_argument("--data", required=True, help="log holding the student")
    parser.add_argument(
        "--format", default="auto", choices=["auto", "interactions", "three-line", "pykt", "matrix"]
    )
    parser.add_argument(
        "--student",
        default=None,
        help="user_id to plot (default: a random student with the most skills)",
    )
    parser.add_argument("--max-attempts", type=int, default=40, help="attempts shown (columns)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the default student choice")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: free cores)"
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default RUN_DIR/knowledge-<student>)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads or nets.free_cores())
    name = json.loads((Path(args.model) / "summary.json").read_text())["model"]
    model = MODELS[name].load(Path(args.model) / "model")
    table = sort_canonical(read_log(args.data, format=args.format)[0])
    if args.student is None:
        first = table.groupby("user_id", sort=False).head(args.max_attempts)
        variety = first.groupby("user_id", sort=False)["skill_id"].nunique()
        candidates = variety.index[variety == variety.max()]
        student = candidates[np.random.default_rng(args.seed).integers(len(candidates))]
    else:
        ids = table["user_id"].astype(str)
        if not (ids == args.student).any():
            raise SystemExit(f"--student {args.student!r} is not a user_id in {args.data}")
        student = table["user_id"][ids == args.student].iloc[0]
    history = table[table["user_id"] == student].head(args.max_attempts)
    knowledge = np.stack(
        [model.knowledge_state(history.iloc[: t + 1]) for t in range(len(history))]
    )  # (T, n_skills)
    practised = pd.unique(history["skill_id"])
    columns = [
        int(np.flatnonzero(model.skill_ids == skill)[0])
        for skill in practised
        if skill in set(model.skill_ids)
    ]
    out = Path(args.out or os.path.join(args.model, f"knowledge-{student}"))
    out.mkdir(parents=True, exist_ok=True)
    plot_knowledge_heatmap(
        model.skill_ids[columns],
        history["skill_id"].to_numpy(),
        history["correct"].to_numpy(),
        knowledge[:, columns],
        out / "knowledge.png",
    )
    frame = pd.DataFrame(
        knowledge[:, columns], columns=[f"p_skill_{s}" for s in model.skill_ids[columns]]
    )
    pd.concat([history[["skill_id", "correct"]].reset_index(drop=True), frame], axis=1).to_csv(
        out / "knowledge.csv", index=False
    )
    summary = {
        "model": name,
        "model_dir": args.model,
        "data": args.data,
        "student": str(student),
        "n_attempts": len(history),
        "skills_shown": [int(s) for s in model.skill_ids[columns]],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out}/knowledge.png for student {student} ({len(history)} attempts)")


if __name__ == "__main__":
    main()
