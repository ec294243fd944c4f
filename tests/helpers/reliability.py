"""Every bad input of issue 18, run through the code, and what happened to it.

``tests/test_reliability.py`` renders these cases as ``docs/reliability.md`` and fails when
the committed file differs from what the code does now (``RILEY_UPDATE_DOCS=1`` rewrites
it), or when a case is a silent alteration. Outcomes:

- ``error``: refused with an exception (its message is shown);
- ``reported``: read, with every dropped row or decision counted in the ``ReadReport``;
- ``exact``: valid input read exactly as written (checked against the expected values);
- ``accepted``: an action the env's ``action_space.contains`` accepts, and the env took it;
- ``silent`` (a silent alteration): read with neither an error nor a report entry, or not
  exactly as written; ``inconsistent``: an env that accepts an action its action space
  refuses, or refuses one it accepts. Both fail the test.

To add the cases of another part of the issue, append a ``Section`` to ``SECTIONS``: a case
is a name, the input as shown, and a function of a fresh folder returning an ``Outcome``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gymnasium as gym

from riley_gym import envs  # noqa: F401  (registers the riley/ envs)
from riley_gym.envs import make_atari, make_atari_vector
from riley_gym.kt.data import read_log
from tests.helpers.actions import single_actions, vector_actions
from tests.helpers.reliability_scripts import script_cases

SILENT = ("silent", "inconsistent")


@dataclass(frozen=True)
class Outcome:
    kind: str  # "error", "reported", "exact", "accepted", "silent" or "inconsistent"
    text: str


@dataclass(frozen=True)
class Case:
    item: str  # the item number
    name: str
    shown: str  # the input, as the table shows it (Markdown)
    run: Callable[[Path], Outcome]  # given a fresh, empty folder


@dataclass(frozen=True)
class Section:
    title: str
    intro: str
    cases: tuple[Case, ...]


def code(text: str) -> str:
    """``text`` as a Markdown code span that survives a table cell."""
    return "`" + text.replace("\n", "\\n").replace("|", "\\|") + "`"


# ---------------------------------------------------------------------------- readers


def read_case(
    item: str,
    name: str,
    file_name: str,
    text: str,
    expected: Callable | None = None,
    **options,
) -> Case:
    """A file written into the folder and read with ``read_log(path, **options)``.

    ``expected(table)`` (for valid input) returns a description of the table when it holds
    exactly the values written, else None (a silent alteration).
    """

    def run(folder: Path) -> Outcome:
        path = folder / file_name
        path.write_text(text)
        try:
            table, report = read_log(path, **options)
        except ValueError as error:
            return Outcome("error", "ValueError: " + str(error).replace(f"{folder}/", ""))
        entries = [
            f"{verb} {count}: {reason} (e.g. {', '.join(report.examples[reason])})"
            for verb, counts in (("dropped", report.dropped), ("counted", report.decisions))
            for reason, count in counts.items()
        ]
        if entries:
            return Outcome("reported", "; ".join(entries).replace(f"{folder}/", ""))
        described = expected(table) if expected is not None else None
        if described is not None:
            return Outcome("exact", described)
        return Outcome("silent", f"{len(table)} rows read with no error and no report entry")

    shown = f"{file_name}: {code(text)}"
    if options:
        shown += " with " + ", ".join(f"{k}={v!r}" for k, v in options.items())
    return Case(item, name, shown, run)


def orders_are(values: list[int]) -> Callable:
    def check(table) -> str | None:
        if table["order"].tolist() == values:
            return f"read exactly: order {values}"
        return None

    return check


LOG = "user_id,skill_id,correct,order_id\n"
PYKT = "fold,uid,questions,concepts,responses,is_repeat\n"

READER_CASES = (
    read_case(
        "1",
        "order beyond int64",
        "big.csv",
        LOG + "1,3,1,99999999999999999999\n1,4,0,99999999999999999998\n",
    ),
    read_case(
        "1", "order beyond int64 (uint64)", "u64.csv", LOG + "1,3,1,1\n1,4,0,18446744073709551615\n"
    ),
    read_case(
        "1",
        "orders float64 cannot tell apart",
        "float.csv",
        LOG + "1,3,1,9007199254740993\n1,4,0,9007199254740992\n1,5,0,0.5\n",
    ),
    read_case(
        "1",
        "orders beyond 2**53, within int64 (valid)",
        "exact.csv",
        LOG + "1,3,1,9007199254740993\n1,4,0,9007199254740992.0\n",
        expected=orders_are([9007199254740992, 9007199254740993]),
    ),
    read_case("2", "exact duplicate row (default)", "dup.csv", LOG + "1,3,1,5\n1,3,1,5\n1,4,1,5\n"),
    read_case(
        "2",
        "exact duplicate row, kept",
        "dup.csv",
        LOG + "1,3,1,5\n1,3,1,5\n1,4,1,5\n",
        duplicates="keep",
    ),
    read_case(
        "2",
        "exact duplicate row, refused",
        "dup.csv",
        LOG + "1,3,1,5\n1,3,1,5\n1,4,1,5\n",
        duplicates="error",
    ),
    read_case(
        "2",
        "same concept twice in one pyKT question",
        "dup_pykt.csv",
        PYKT + '0,1,"4,4,4","2,5,5","1,1,1","0,1,1"\n',
    ),
    read_case(
        "3", "-1 padding in a pyKT file", "pad.csv", PYKT + '0,1,"4,-1","2,-1","1,-1","0,-1"\n'
    ),
    read_case("3", "-1 in a three-line file", "neg.txt", "2\n1,-1\n1,0\n"),
    read_case("3", "-5 skill in an interaction log", "neg.csv", LOG + "1,4,1,1\n1,-5,1,2\n"),
    read_case(
        "3",
        "-5 concept in a pyKT file",
        "neg_pykt.csv",
        'fold,uid,concepts,responses\n0,1,"1,-5","1,0"\n',
    ),
    read_case(
        "3",
        "-2 item in an interaction log",
        "neg_item.csv",
        "user_id,problem_id,skill_id,correct\n1,-2,4,1\n",
    ),
    read_case(
        "4", "order mixing numbers and dates", "mixed.csv", LOG + "1,3,1,5\n1,4,0,2020-01-01\n"
    ),
    read_case(
        "4",
        "dates then a number",
        "mixed2.csv",
        LOG + "1,3,1,2020-01-01\n1,4,0,2020-01-02\n1,5,0,7\n",
    ),
    read_case(
        "4",
        "two UTC offsets",
        "tz.csv",
        LOG + "1,3,1,2020-01-01T00:00+01:00\n1,4,0,2020-01-02T00:00+02:00\n",
    ),
    read_case(
        "4",
        "an offset and none",
        "tz2.csv",
        LOG + "1,3,1,2020-01-01T00:00Z\n1,4,0,2020-01-02T00:00\n",
    ),
    read_case(
        "4",
        "one UTC offset (valid: converted to UTC)",
        "tz1.csv",
        LOG + "1,3,1,2020-01-01T00:00+01:00\n1,4,0,2020-01-01T00:30+01:00\n",
        expected=orders_are([1577833200 * 10**9, 1577835000 * 10**9]),
    ),
    read_case("5", "last student with 0 attempts", "zero.txt", "2\n5,6\n1,0\n0\n\n\n"),
    read_case("5", "last student with 0 attempts, lines left out", "zero2.txt", "2\n5,6\n1,0\n0\n"),
    read_case("5", "0 attempts with trailing commas", "zero3.txt", "0,\n,\n,\n2\n5,6,\n1,0,\n"),
    read_case(
        "5", "every student with 0 attempts", "zeros.txt", "0\n\n\n0\n,\n,\n", format="three-line"
    ),
    read_case("6", "header only (interaction log)", "header.csv", "user_id,skill_id,correct\n"),
    read_case("6", "header only (pyKT)", "header_pykt.csv", "fold,uid,concepts,responses\n"),
    read_case(
        "6", "every row dropped", "all_missing.csv", "user_id,skill_id,correct\n1,,1\n2,NA,0\n"
    ),
    read_case(
        "6",
        "every entry padding (pyKT)",
        "all_pad.csv",
        'fold,uid,concepts,responses\n0,1,"-1","-1"\n',
    ),
    read_case("-", "blank lines", "blank.csv", "user_id,skill_id,correct\n\n1,2,1\n,,\n"),
    read_case(
        "-",
        "pyKT is_repeat=1 on a first entry",
        "orphan.csv",
        PYKT + '0,1,"4,5","1,2","1,1","1,0"\n',
    ),
    read_case(
        "-",
        "pyKT is_repeat=1 on another question",
        "repeat.csv",
        PYKT + '0,1,"4,5","1,2","1,1","0,1"\n',
    ),
    read_case(
        "-",
        "student ids 7 and 007 (valid: two students)",
        "users.csv",
        "user_id,skill_id,correct\n7,1,1\n007,1,0\n",
        expected=lambda t: (
            "read exactly: two students '7' and '007' (as strings)"
            if t["user_id"].tolist() == ["7", "007"]
            else None
        ),
    ),
    read_case(
        "-",
        "a quoted field spanning lines",
        "notes.csv",
        'user_id,skill_id,correct,note\n1,3,1,"two\nlines"\n1,,1,x\n',
    ),
    read_case(
        "-", "one-column matrix ending in blank lines", "m1.csv", "1\n\n0\n\n\n", format="matrix"
    ),
    read_case(
        "-",
        "column named like the provenance",
        "prov.csv",
        "user_id,skill_id,correct,source_line\n1,2,1,9\n",
    ),
)


# ---------------------------------------------------------------------------- envs

SINGLE_ENVS: tuple[tuple[str, Callable[[], gym.Env]], ...] = tuple(
    (env_id, lambda env_id=env_id: gym.make(env_id))
    for env_id in sorted(e for e in gym.registry if e.startswith("riley/"))
) + (("Atari Pong (make_atari)", lambda: make_atari("Pong")),)

VECTOR_ENVS: tuple[tuple[str, Callable], ...] = tuple(
    (
        f"{env_id} (make_vec, 3 envs)",
        lambda env_id=env_id: gym.make_vec(
            env_id, num_envs=3, vectorization_mode="vector_entry_point"
        ),
    )
    for env_id in sorted(e for e in gym.registry if e.startswith("riley/"))
    if gym.spec(env_id).vector_entry_point is not None
) + (
    (
        "Atari Pong (make_atari_vector, 2 envs)",
        lambda: make_atari_vector("Pong", 2, seed=0, num_threads=1),
    ),
)


def _answer(env, action) -> tuple[str, str]:
    """("accepted", "") or (the exception's class name, its message) for one step of
    ``action`` after a seeded reset."""
    env.reset(seed=0)
    try:
        env.step(action)
    except (TypeError, ValueError) as error:
        return type(error).__name__, str(error)
    return "accepted", ""


def action_case(label: str, index: int, vector: bool) -> Case:
    """The ``index``-th action of ``tests.helpers.actions`` sent to every env of its kind."""
    made = VECTOR_ENVS if vector else SINGLE_ENVS
    listing = vector_actions if vector else single_actions

    def run(folder: Path) -> Outcome:
        answers: dict[str, list[str]] = {}  # kind -> messages, one per env
        wrong = []
        for name, make in made:
            env = make()
            space = env.action_space
            _, action, _ = listing(space)[index]
            kind, message = _answer(env, action)
            env.close()
            if (kind == "accepted") != space.contains(action):
                wrong.append(f"{name}: {kind} {message} (contains: {space.contains(action)})")
            answers.setdefault(kind, []).append(message)
        if wrong:
            return Outcome("inconsistent", "; ".join(wrong))
        if list(answers) == ["accepted"]:
            return Outcome("accepted", "accepted by every env, as action_space.contains does")
        if len(answers) == 1:
            ((kind, messages),) = answers.items()
            return Outcome("error", f"{kind} from every env, e.g. {messages[0]}")
        return Outcome("inconsistent", f"different answers: {sorted(answers)}")

    # the input shown: the action for the first env (the same kind for every env)
    _, shown_action, _ = (vector_actions if vector else single_actions)(
        gym.spaces.MultiDiscrete([16, 16, 16]) if vector else gym.spaces.Discrete(4)
    )[index]
    return Case("10", label, code(repr(shown_action)), run)


def _action_cases(vector: bool) -> tuple[Case, ...]:
    listing = (
        vector_actions(gym.spaces.MultiDiscrete([16, 16, 16]))
        if vector
        else single_actions(gym.spaces.Discrete(4))
    )
    return tuple(action_case(label, i, vector) for i, (label, _, _) in enumerate(listing))


SECTIONS = (
    Section(
        "Readers (items 1-6)",
        "Each file is read with `riley_gym.kt.data.read_log` (format detected unless given). "
        "Locations are `file:line`; report entries are the `ReadReport`'s counted `dropped` "
        "rows and `decisions`, each with its first examples. Policies are in the docstring of "
        "`kt/data/readers.py`.",
        READER_CASES,
    ),
    Section(
        "Actions of the single envs (item 10)",
        "Each action is sent to `step` of every registered `riley/` env (through `gym.make`) "
        "and of `make_atari('Pong')`; the input shown is for `Discrete(4)`, the envs get the "
        "same kind of value for their own range. Every env must answer as its "
        "`action_space.contains` does (gymnasium's `Discrete.contains`: a Python bool is an "
        "int, a numpy bool is not): see `envs/actions.py`.",
        _action_cases(vector=False),
    ),
    Section(
        "Actions of the vector envs (item 10)",
        "Each batch of actions is sent to every vector env (`MultiDiscrete` action space; "
        "its `contains` casts: a bool array is accepted as 0/1, a float array is not). The "
        "input shown is for 3 envs of 16 actions.",
        _action_cases(vector=True),
    ),
    Section(
        "Scripts: runs, checkpoints, flags (items 7-9, 13, 14)",
        "Each command runs in a subprocess (DIR: a fresh folder; RUN: a finished tiny run in "
        "it). A refusal must exit with code 2, in one readable line and no traceback (`--debug` "
        "shows it); the `error:` line is shown.",
        script_cases(),
    ),
)


def run_all(folder: Path) -> list[tuple[Section, list[tuple[Case, Outcome]]]]:
    """Every case of every section, each in a fresh subfolder of ``folder``."""
    results = []
    for s, section in enumerate(SECTIONS):
        outcomes = []
        for c, case in enumerate(section.cases):
            case_folder = folder / f"{s}-{c}"
            case_folder.mkdir()
            outcomes.append((case, case.run(case_folder)))
        results.append((section, outcomes))
    return results


def render(results) -> str:
    """The Markdown of ``docs/reliability.md``."""
    n_cases = sum(len(outcomes) for _, outcomes in results)
    n_silent = sum(o.kind in SILENT for _, outcomes in results for _, o in outcomes)
    lines = [
        "# Reliability: every bad input and what happens to it",
        "",
        "Generated by `tests/test_reliability.py` from the cases in "
        "`tests/helpers/reliability.py`; the test fails when this file differs from what the "
        "code does now (`RILEY_UPDATE_DOCS=1 pytest tests/test_reliability.py` rewrites it). "
        "Outcomes: **error** (refused, with the message shown), **reported** (read, every "
        "dropped row or decision counted in the report), **exact** (valid input, read exactly "
        "as written), **accepted** (an action the env's action space accepts). A case read "
        "with neither an error nor a report entry, or not exactly as written, is a silent "
        "alteration; an env answering otherwise than its action space is inconsistent.",
        "",
        f"**Silent alterations: {n_silent}** (of {n_cases} cases).",
    ]
    for section, outcomes in results:
        lines += ["", f"## {section.title}", "", section.intro, ""]
        lines += ["| item | case | input | outcome |", "|---|---|---|---|"]
        for case, outcome in outcomes:
            text = outcome.text.replace("\n", " ").replace("|", "\\|")
            if outcome.kind in ("error", "reported"):
                text = code(outcome.text)
            lines.append(
                f"| {case.item} | {case.name} | {case.shown} | **{outcome.kind}**: {text} |"
            )
    return "\n".join(lines) + "\n"
