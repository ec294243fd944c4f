"""Serve the Riley web page: play the student, watch what the models believe, why the tutor chose.

python scripts/serve.py                          # Riley's curriculum, http://127.0.0.1:8000
python scripts/serve.py --curriculum my.json --port 8080
python scripts/serve.py --model runs/web-model/riley-0123456789   # a saved model folder
python scripts/serve.py --host 0.0.0.0           # reachable from the network: NO authentication

Pages: / (a tutoring session), /replay (a logged student under a train_kt.py model),
/compare (a tutor.py run's policies); the JSON API under /api/ is documented at /docs.
Without --model the tutoring model (DKT, BKT, DQN tutor on simulated logs) is trained on the
first start, in about 15 s on one core, and kept in --out (default
runs/web-model/<curriculum>-<hash of the settings>); later starts load it at once. That
folder's summary.json has its settings and figures.
"""

from __future__ import annotations

import argparse
import sys

import torch

from riley_gym.web.app import create_app, describe_routes
from riley_gym.web.model import model_for_serving
from riley_gym.web.server import is_loopback, serve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=None, help="serve this saved web model folder")
    parser.add_argument(
        "--curriculum", default=None, help="'riley' (default) or a curriculum JSON/YAML file"
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only); another address exposes "
        "the pages and the API, which have NO authentication, to whoever can reach it",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of training and of sessions")
    parser.add_argument(
        "--out", default=None, help="folder for a newly trained model (default: the cache)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny model that trains in seconds (tutors badly)"
    )
    parser.add_argument(
        "--runs", default="runs", help="folder searched for run folders to suggest on the pages"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # One thread: each request is a few tiny network steps, and requests run in parallel.
    torch.set_num_threads(args.threads)
    try:
        model = model_for_serving(args.model, args.out, args.curriculum, args.seed, args.quick)
    except ValueError as error:
        print(f"serve.py: {error}", file=sys.stderr)
        return 2
    app = create_app(model, seed=args.seed, runs_dir=args.runs)
    if not is_loopback(args.host):
        print(
            f"WARNING: serving on {args.host}: anyone who can reach it can use the pages and "
            "the API (no authentication) and make the server read logs and model folders by path"
        )
    print(f"API:\n{describe_routes(app)}")
    print(f"open http://{args.host}:{args.port}/ (API docs: /docs); Ctrl-C stops")
    serve(app, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
