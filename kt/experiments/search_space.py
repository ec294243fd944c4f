"""A knowledge tracer's settings search space, read from a JSON file and checked before a sweep.

The file names settings by their ``scripts/train_kt.py`` flag without the dashes and with
underscores (``hidden_size`` for ``--hidden-size``), so a trial is a ``train_kt.py`` command
and the best one can be rerun as it is::

    {
      "model": "dkt",
      "fixed": {"protocol": "pykt", "cell": "gru", "max_epochs": 30, "patience": 4},
      "search": {
        "hidden_size": {"choice": [100, 200, 300]},
        "learning_rate": {"loguniform": [0.0005, 0.005]},
        "dropout": {"uniform": [0.0, 0.5]},
        "batch_size": {"randint": [32, 256]}
      },
      "start_from": [{"hidden_size": 200, "learning_rate": 0.002, "dropout": 0.3}]
    }

``choice`` lists values; ``uniform`` and ``loguniform`` give [low, high]; ``randint`` gives
integers low..high, both included. ``start_from`` points are tried first (the settings one
would have chosen by hand, so the sweep says whether it beats them). Every value, each
range's ends and each start point are checked by building the model's settings from them, so
a bad space fails here, naming the file and the key, and not in a trial an hour later.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riley_gym import nets
from riley_gym.kt.experiments.runs import add_run_arguments, run_settings_from_arguments
from riley_gym.kt.models.registry import MODELS

__all__ = ["DOMAINS", "SearchSpace", "SearchSpaceError", "load_search_space"]

DOMAINS = ("choice", "uniform", "loguniform", "randint")
# A sweep compares epochs by validation AUC; a refit on all the data has no validation.
_REFUSED = {"refit": "a refit after early stopping has no validation AUC for the scheduler"}


class SearchSpaceError(ValueError):
    """A search space file that cannot be swept: names the file, the key and what is wrong."""


class _RaisingParser(argparse.ArgumentParser):
    """A parser whose errors are exceptions (argparse's own exit the process)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValueError(message)


def _flag_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)  # repr: exact floats


@dataclass(frozen=True)
class SearchSpace:
    """A checked search space (``load_search_space`` builds it)."""

    model: str
    fixed: dict[str, Any]
    search: dict[str, dict[str, list[Any]]]
    start_from: list[dict[str, Any]] = field(default_factory=list)
    source: str = ""

    def flags(self, values: dict[str, Any]) -> list[str]:
        """``train_kt.py`` flags of the fixed settings and of one trial's ``values``."""
        flags = ["--model", self.model]
        for name, value in {**self.fixed, **values}.items():
            flags += [nets.flag_of(name), _flag_value(value)]
        return flags

    def settings(self, values: dict[str, Any], seed: int) -> tuple[Any, Any, dict[str, Any]]:
        """(protocol, fit plan, model name -> config) of one trial, as ``train_kt.py`` builds them.

        Raises:
            ValueError: naming the flag, for a value the settings refuse.
        """
        args = _parser(self.model).parse_args(self.flags(values)[2:])
        try:
            return run_settings_from_arguments(args, [self.model], seed)
        except nets.SettingsError as error:
            raise ValueError(error.flag_message()) from None

    def max_epochs(self) -> int:
        """The most epochs a trial trains: the largest searched ``max_epochs``, else the fixed
        one or the default."""
        if "max_epochs" in self.search:
            return max(_corners(self.search["max_epochs"]))
        return self.settings({}, seed=0)[2][self.model].training.max_epochs

    def command(self, values: dict[str, Any], data: str, test: str | None, seed: int) -> str:
        """The ``train_kt.py`` command that reruns one trial (one thread, as trials run)."""
        words = ["python", "scripts/train_kt.py", *self.flags(values), "--data", data]
        words += ["--test", test] if test else []
        return shlex.join([*words, "--seed", str(seed), "--threads", "1"])

    def ray_param_space(self) -> dict[str, Any]:
        """The search as Ray Tune sampling domains (Ray is imported only here)."""
        from ray import tune  # optional: the distributed extra

        domains = {
            "choice": lambda values: tune.choice(values),
            "uniform": lambda bounds: tune.uniform(*bounds),
            "loguniform": lambda bounds: tune.loguniform(*bounds),
            "randint": lambda bounds: tune.randint(bounds[0], bounds[1] + 1),  # Ray's excludes
        }
        return {
            name: domains[kind](values)
            for name, spec in self.search.items()
            for kind, values in spec.items()
        }


@functools.lru_cache(maxsize=None)  # one per model: load_search_space builds many settings
def _parser(model: str) -> argparse.ArgumentParser:
    parser = _RaisingParser(add_help=False)
    add_run_arguments(parser, [model])
    return parser


def _settable(model: str) -> set[str]:
    return {action.dest for action in _parser(model)._actions}


def _check_domain(name: str, spec: Any, where: str) -> None:
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DOMAINS:
        raise SearchSpaceError(
            f"{where}: search.{name} must be one of {{{', '.join(f'{d!r}: ...' for d in DOMAINS)}}}"
            f", got {spec!r}"
        )
    kind, values = next(iter(spec.items()))
    if kind == "choice":
        if not isinstance(values, list) or not values:
            raise SearchSpaceError(f"{where}: search.{name}.choice must be a non-empty list")
        return
    numbers = isinstance(values, list) and len(values) == 2
    numbers = numbers and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
    )
    if not numbers or not values[0] < values[1]:
        raise SearchSpaceError(
            f"{where}: search.{name}.{kind} must be [low, high] with low < high, got {values!r}"
        )
    if kind == "randint" and not all(isinstance(v, int) for v in values):
        raise SearchSpaceError(f"{where}: search.{name}.randint bounds must be integers")
    if kind == "loguniform" and values[0] <= 0:
        raise SearchSpaceError(f"{where}: search.{name}.loguniform needs low > 0, got {values!r}")


def _corners(spec: dict[str, list[Any]]) -> list[Any]:
    """The values a domain can take at its edges: each choice, or each bound."""
    return list(next(iter(spec.values())))


def _check_values(space: SearchSpace, values: dict[str, Any], what: str, where: str) -> None:
    try:
        space.settings(values, seed=0)
    except ValueError as error:
        raise SearchSpaceError(f"{where}: {what}: {error}") from None


def load_search_space(path: str | Path) -> SearchSpace:
    """Read and check a search space file (the format is in this module's docstring).

    Raises:
        SearchSpaceError: naming the file and the key, for a missing or unreadable file, an
            unknown model or setting, a malformed domain, or a value the settings refuse.
    """
    where = str(path)
    try:
        raw = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SearchSpaceError(f"{where}: no such search space file") from None
    except json.JSONDecodeError as error:
        raise SearchSpaceError(f"{where}: not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise SearchSpaceError(f"{where}: must hold a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - {"model", "fixed", "search", "start_from"})
    if unknown:
        raise SearchSpaceError(
            f"{where}: unknown keys {unknown}; the keys are model, fixed, search, start_from"
        )
    model = raw.get("model", "dkt")
    trains = model in MODELS and getattr(MODELS[model], "early_stopping", False)
    if not trains:
        neural = [name for name in MODELS if getattr(MODELS[name], "early_stopping", False)]
        raise SearchSpaceError(
            f"{where}: model must be one trained by epochs, one of {neural}, got {model!r}"
        )
    fixed, search = raw.get("fixed", {}), raw.get("search")
    start_from = raw.get("start_from", [])
    if not isinstance(fixed, dict):
        raise SearchSpaceError(f"{where}: fixed must be an object of settings, got {fixed!r}")
    if not isinstance(search, dict) or not search:
        raise SearchSpaceError(f"{where}: search must be a non-empty object of settings")
    if not isinstance(start_from, list) or not all(isinstance(p, dict) for p in start_from):
        raise SearchSpaceError(f"{where}: start_from must be a list of objects")
    settable = _settable(model)
    for part, names in (("fixed", fixed), ("search", search)):
        for name in names:
            if name in _REFUSED:
                raise SearchSpaceError(f"{where}: {part}.{name}: not in a sweep: {_REFUSED[name]}")
            if name not in settable:
                raise SearchSpaceError(
                    f"{where}: {part}.{name} is not a setting of {model} "
                    f"(the settings are train_kt.py --model {model}'s flags: "
                    f"{', '.join(sorted(settable))})"
                )
    both = sorted(set(fixed) & set(search))
    if both:
        raise SearchSpaceError(f"{where}: {both} both fixed and searched; keep one")
    for name, spec in search.items():
        _check_domain(name, spec, where)
    space = SearchSpace(model, dict(fixed), dict(search), list(start_from), where)
    _check_values(space, {}, "fixed", where)
    for name, spec in search.items():
        for value in _corners(spec):
            _check_values(space, {name: value}, f"search.{name} = {value!r}", where)
    for number, point in enumerate(start_from):
        extra = sorted(set(point) - set(search))
        if extra:
            raise SearchSpaceError(
                f"{where}: start_from[{number}] sets {extra}, which are not searched"
            )
        _check_values(space, point, f"start_from[{number}]", where)
    return space
