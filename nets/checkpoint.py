"""Checkpoints that hold tensors, state_dicts and plain values,
and never unpickle arbitrary objects.

A checkpoint file is ``torch.save`` of a dict with a format marker, the config as a JSON
string, and a payload of tensors, state_dicts and JSON-like values (numbers, strings,
lists, dicts). Loading uses ``torch.load(weights_only=True)``, whose restricted
unpickler refuses any other object, so a crafted pickle cannot run code.
Writes are atomic: a temporary file in the same folder, then ``os.replace``.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "riley-gym-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A file is not a riley-gym checkpoint, or holds something loading refuses."""


def _to_safe(value: Any, where: str) -> Any:
    """Convert numpy values to tensors/Python numbers and reject anything
    weights_only cannot load."""
    if (
        isinstance(value, torch.Tensor)
        or value is None
        or isinstance(value, (bool, int, float, str))
    ):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(
            np.array(value, copy=True)
        )  # a copy: read-only arrays cannot back a tensor
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: _to_safe(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        converted = [_to_safe(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return converted if isinstance(value, list) else tuple(converted)
    raise TypeError(
        f"checkpoint payload at {where} has type {type(value).__name__}; allowed are tensors, "
        "numpy arrays, numbers, strings, None, and lists/tuples/dicts of them"
    )


def save_checkpoint(
    path: str | os.PathLike, payload: dict[str, Any], config: dict[str, Any] | None = None
) -> Path:
    """Write a checkpoint atomically.

    Args:
        path: destination file; its folder is created if needed.
        payload: tensors, state_dicts, numpy arrays (stored as tensors) and plain values.
        config: the settings that produced the state; must be JSON-serialisable.

    Returns:
        The path written.

    Raises:
        TypeError: if the payload holds an object that safe loading would refuse, or the
            config is not JSON-serialisable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        config_json = json.dumps(config if config is not None else {}, sort_keys=True)
    except TypeError as error:
        raise TypeError(f"checkpoint config must be JSON-serialisable: {error}") from error
    record = {
        "format": FORMAT,
        "version": VERSION,
        "config_json": config_json,
        "payload": _to_safe(payload, "payload"),
    }
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(record, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return path


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a checkpoint written by ``save_checkpoint``.

    Args:
        path: the checkpoint file.
        map_location: device for the loaded tensors.

    Returns:
        (payload, config).

    Raises:
        FileNotFoundError: if the file does not exist.
        CheckpointError: if the file is not a riley-gym checkpoint or holds objects other than
            tensors and plain values (e.g. a crafted pickle), which are refused unexecuted.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        record = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, ValueError) as error:
        # torch's own message suggests weights_only=False, i.e. running the file's code: not quoted.
        raise CheckpointError(
            f"{path} is not a riley-gym checkpoint: the safe loader refused it without running "
            "anything from it (it is not a file train_agent.py or train_kt.py wrote, or it is "
            "damaged); point to a checkpoint a riley-gym run wrote"
        ) from error
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a torch file but not a riley-gym checkpoint (no '{FORMAT}' marker)"
        )
    if record.get("version") != VERSION:
        raise CheckpointError(
            f"{path} has checkpoint version {record.get('version')!r}; this code "
            f"reads version {VERSION}"
        )
    return record["payload"], json.loads(record["config_json"])
