"""The on-disk layout every knowledge tracer saves to: ``model.pt``
(weights-only checkpoint) and ``config.json``.

One home for the envelope so each model's ``save``/``load`` states only what it stores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from riley_gym import nets

CHECKPOINT_FILE = "model.pt"
CONFIG_FILE = "config.json"


def write_model(
    directory: str | Path, model_name: str, payload: dict[str, Any], config: dict[str, Any]
) -> Path:
    """Write ``payload`` and ``config`` (tagged with ``model_name``) to ``directory``;
    returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tagged = {"model": model_name, **config}
    nets.save_checkpoint(directory / CHECKPOINT_FILE, payload, tagged)
    (directory / CONFIG_FILE).write_text(json.dumps(tagged, indent=2, sort_keys=True))
    return directory


def read_model(directory: str | Path, model_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read ``(payload, config)`` written by ``write_model`` for ``model_name``
    (tensors on the CPU).

    Raises:
        ValueError: if the folder holds another model's checkpoint.
    """
    payload, config = nets.load_checkpoint(Path(directory) / CHECKPOINT_FILE, map_location="cpu")
    config = dict(config)
    found = config.pop("model", model_name)
    if found != model_name:
        raise ValueError(
            f"{directory} holds a {found!r} model checkpoint, not a {model_name!r} one"
        )
    return payload, config
