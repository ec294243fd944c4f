"""docs/reliability.md: every bad input of issue 18 and its outcome, generated, never stale.

The cases live in ``tests/helpers/reliability.py``. This test runs them all, fails if any is
a silent alteration (read with neither an error nor a report entry, or an env answering
otherwise than its action space), and fails if the committed ``docs/reliability.md``
differs from what the code does now. ``RILEY_UPDATE_DOCS=1`` rewrites the file instead.
"""

import difflib
import os
from pathlib import Path

import pytest

from tests.helpers.reliability import SILENT, render, run_all

DOC = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return run_all(tmp_path_factory.mktemp("reliability"))


def test_no_case_is_a_silent_alteration(results):
    silent = [
        f"{section.title}: {case.name}: {outcome.kind}: {outcome.text}"
        for section, outcomes in results
        for case, outcome in outcomes
        if outcome.kind in SILENT
    ]
    assert silent == []


def test_every_bad_input_is_refused_or_reported(results):
    """Beyond "not silent": each reader case ends as its item says it must."""
    outcomes = {case.name: outcome.kind for _, cases in results for case, outcome in cases}
    assert outcomes["order beyond int64"] == "error"  # item 1: refused, not rounded
    assert outcomes["orders beyond 2**53, within int64 (valid)"] == "exact"
    assert outcomes["exact duplicate row (default)"] == "reported"  # item 2
    assert outcomes["exact duplicate row, refused"] == "error"
    assert outcomes["-1 padding in a pyKT file"] == "reported"  # item 3
    assert outcomes["-5 skill in an interaction log"] == "error"
    assert outcomes["order mixing numbers and dates"] == "error"  # item 4
    assert outcomes["two UTC offsets"] == "error"
    assert outcomes["last student with 0 attempts"] == "reported"  # item 5
    assert outcomes["0 attempts with trailing commas"] == "reported"
    assert outcomes["header only (interaction log)"] == "error"  # item 6
    assert outcomes["True (a Python int, 1)"] == "accepted"  # item 10, as Discrete.contains
    assert outcomes["numpy bool"] == "error"


def test_docs_reliability_is_up_to_date(results):
    text = render(results)
    if os.environ.get("RILEY_UPDATE_DOCS") == "1":
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text)
    committed = DOC.read_text() if DOC.is_file() else ""
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(True), text.splitlines(True), "committed", "generated", n=0
        )
    )
    assert not diff, (
        f"{DOC} is stale; rewrite it with RILEY_UPDATE_DOCS=1 pytest tests/test_reliability.py "
        f"and commit it:\n{diff[:4000]}"
    )
