"""Reading the small result files the README's tables are rendered from.

Each table kind keeps its stored runs as JSON files in one folder under ``docs/results/``. A
file that is not JSON, or lacks a key its table reads, is refused with a ``ValueError`` naming
the file and the missing keys, so a hand-edited or truncated result cannot render silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

__all__ = ["read_stored", "read_folder", "write_stored"]


def read_stored(path: str | Path, required: Iterable[str] = ()) -> dict[str, Any]:
    """One stored result file, checked to be a JSON object holding every key in ``required``.

    Raises:
        ValueError: the file is not valid JSON, not an object, or lacks a required key.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(record, dict):
        kind = type(record).__name__
        raise ValueError(f"{path}: a stored result must be a JSON object, got a JSON {kind}")
    missing = [key for key in required if key not in record]
    if missing:
        raise ValueError(f"{path}: stored result lacks {missing} (store it again with --add)")
    return record


def read_folder(
    folder: str | Path,
    required: Iterable[str] = (),
    rank: Callable[[Path], Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """name (the file's stem) -> stored result, for every ``*.json`` in ``folder``.

    Args:
        folder: the kind's folder; absent means no stored results (an empty dict).
        required: keys every file must hold (see ``read_stored``).
        rank: sort key over the paths (default: by name).
    """
    required = tuple(required)
    paths = sorted(Path(folder).glob("*.json"), key=rank or (lambda path: path.stem))
    return {path.stem: read_stored(path, required) for path in paths}


def write_stored(folder: str | Path, name: str, record: dict[str, Any]) -> Path:
    """Write ``record`` as ``folder/name.json`` (one key per line, so diffs stay readable)."""
    path = Path(folder) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path
