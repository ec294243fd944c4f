"""Write a synthetic interaction log as a Parquet dataset: python scripts/make_log.py --out DIR.

Simulates students (Riley's curriculum or any other, BKT or IRT dynamics, a mixture of
tutoring policies) with the vectorised student simulator, chunk by chunk, into DIR as
part-*.parquet files plus manifest.json (the settings, row and student counts, files, and the
rows per second written). Memory stays at one chunk of students whatever --n-interactions is
(default 100M). Train on it with scripts/train_kt.py --data DIR.
"""

import argparse
import json

from tqdm.auto import tqdm

from riley_gym import nets
from riley_gym.kt.experiments.synthetic_log import SyntheticLogConfig, write_synthetic_log


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="the folder to write (must hold no log)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    nets.add_debug_flag(parser)
    nets.add_arguments(parser, SyntheticLogConfig)
    args = parser.parse_args()
    try:
        config = SyntheticLogConfig(**nets.given_arguments(args, SyntheticLogConfig))
    except nets.SettingsError as error:
        parser.error(error.flag_message())
    bar = tqdm(total=config.n_interactions, unit="row", disable=args.no_progress, desc="write")
    try:
        manifest = write_synthetic_log(config, args.out, progress=bar.update)
    finally:
        bar.close()
    keys = ("n_rows", "n_students", "write_seconds", "rows_per_second")
    print(json.dumps({key: manifest[key] for key in keys}))
    print(f"wrote {args.out}/manifest.json")


if __name__ == "__main__":
    nets.run_script(main, extra_errors=(FileExistsError,))
