"""Command-line helpers shared by the scripts: strict booleans, and errors a person can read.

``run_script(main)`` runs a script's ``main``: a usage or data error (a bad value, a file that
is missing or malformed, a folder that holds another run, a checkpoint that is not ours) ends it
with one readable line on stderr and exit code 2, never a traceback; ``--debug`` on the
command line, or ``RILEY_DEBUG=1`` in the environment, shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Callable, NoReturn

# What a person can fix by changing the command or its input; anything else is a bug: traceback.
USAGE_ERRORS = (
    ValueError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


def parse_bool(text: str) -> bool:
    """true/false, yes/no, 1/0 (any case) for argparse; anything else is an error naming the value.

    (``type=bool`` would read "False" as True; a lenient ``in ("1", "true")`` would read a
    typo as False.)
    """
    value = text.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, yes/no or 1/0, got {text!r}")


def debugging(argv: list[str] | None = None) -> bool:
    """Whether ``--debug`` is on the command line or ``RILEY_DEBUG`` is set (not "0")."""
    argv = sys.argv[1:] if argv is None else argv
    return "--debug" in argv or os.environ.get("RILEY_DEBUG", "0") not in ("", "0")


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """The ``--debug`` flag ``run_script`` reads (listed in ``--help``)."""
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (or RILEY_DEBUG=1)"
    )


def run_script(
    main: Callable[[], object], extra_errors: tuple[type[BaseException], ...] = ()
) -> NoReturn:
    """Run ``main`` and exit: 0 when it returns, 2 with one readable line for a usage or data error.

    Args:
        main: the script's main function (it parses ``sys.argv`` itself).
        extra_errors: more exception types that are the user's to fix (e.g. Gymnasium's).
    """
    try:
        main()
    except (*USAGE_ERRORS, *extra_errors) as error:
        if debugging():
            traceback.print_exc()
        else:
            name = os.path.basename(sys.argv[0])
            print(f"{name}: error: {error}", file=sys.stderr)
            print(f"{name}: (run again with --debug for the traceback)", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{os.path.basename(sys.argv[0])}: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(0)
