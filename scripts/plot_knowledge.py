"""Plot one student's predicted knowledge per skill over their attempts (the DKT paper's figure 1).

python scripts/plot_knowledge.py --model RUN_DIR --data LOG [--student ID]

Loads a model saved by scripts/train_kt.py, takes one student's first --max-attempts
attempts from LOG, and after each attempt asks the model for p(correct) on a next
attempt at every skill (KnowledgeTracer.knowledge_state on the history so far; works for
every model). Rows of the heatmap are the skills the student practised, columns the
attempts. Writes DIR/knowledge.png, knowledge.csv, summary.json.
"""

import argparse

import torch

from riley_gym import nets
from riley_gym.kt.experiments.knowledge_figures import write_knowledge_figure

FORMATS = ["auto", "interactions", "three-line", "pykt", "matrix"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="a scripts/train_kt.py run folder")
    parser.add_argument("--data", required=True, help="log holding the student")
    parser.add_argument("--format", default="auto", choices=FORMATS, help="log format")
    parser.add_argument(
        "--student",
        default=None,
        help="user_id to plot (default: a random student with the most skills)",
    )
    parser.add_argument("--max-attempts", type=int, default=40, help="attempts shown (columns)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the default student choice")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: free)")
    parser.add_argument("--out", default=None, help="output folder (default RUN/knowledge-<id>)")
    nets.add_debug_flag(parser)
    args = parser.parse_args()  # fmt: skip
    torch.set_num_threads(args.threads or nets.free_cores())
    summary = write_knowledge_figure(
        args.model, args.data, args.out, args.format, args.student, args.max_attempts, args.seed
    )
    print(f"wrote {summary['out']}/knowledge.png for student {summary['student']} "
          f"({summary['n_attempts']} attempts)")  # fmt: skip


if __name__ == "__main__":
    nets.run_script(main)
