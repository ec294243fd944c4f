"""Command-line parsing shared by the agents' and knowledge tracers' scripts."""

from __future__ import annotations

import argparse


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
