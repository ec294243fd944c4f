"""kt.data: readers against hand-written files, malformed-input fuzzing, real data slices."""

import doctest
import importlib
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riley_gym.kt.data import (
    REQUIRED_COLUMNS,
    default_data_dir,
    detect_format,
    make_table,
    read_interactions,
    read_log,
    read_matrix,
    read_pykt,
    read_three_line,
    validate_table,
)


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rows(table, columns=("user_id", "item_id", "skill_id", "correct", "order")):
    return [tuple(r) for r in table[list(columns)].itertuples(index=False)]


# ---------------------------------------------------------------------------- tables


def test_make_table_defaults_and_sorting():
    table = make_table(user_ids=["b", "a", "b"], skill_ids=[3, 1, 4], correct=[1, 0, 0])
    assert list(table.columns) == list(REQUIRED_COLUMNS)
    assert rows(table) == [("b", 3, 3, 1, 0), ("b", 4, 4, 0, 1), ("a", 1, 1, 0, 0)]
    assert table["correct"].dtype == np.int8 and table["skill_id"].dtype == np.int64
    table = make_table([1, 1], [0, 0], [1, 0], order=[5.0, 2.0], item_ids=[7, 8], fold=[0, 0])
    assert rows(table, ("item_id", "order", "fold")) == [(8, 2.0, 0), (7, 5.0, 0)]


def test_make_table_rejects_bad_values():
    with pytest.raises(ValueError, match="different lengths"):
        make_table([1, 1], [0], [1, 0])
    with pytest.raises(ValueError, match="0 or 1.*row 1: 2"):
        make_table([1, 1], [0, 0], [1, 2])
    with pytest.raises(ValueError, match="'skill_id'.*1.5.*not an integer"):
        make_table([1, 1], [0, 1.5], [1, 0])


def test_validate_table_names_column_and_row():
    good = make_table([1, 1], [0, 1], [1, 0])
    validate_table(good)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['skill_id'\]"):
        validate_table(good.drop(columns="skill_id"), where="mine")
    bad = good.assign(correct=np.array([1, 3], dtype=np.int8))
    with pytest.raises(ValueError, match="'correct' must be 0 or 1; row 1 has 3"):
        validate_table(bad)
    with pytest.raises(ValueError, match="'user_id' has a missing value at row 0"):
        validate_table(good.assign(user_id=[None, 1]))
    with pytest.raises(ValueError, match="'item_id' must have an integer dtype"):
        validate_table(good.assign(item_id=[0.5, 1.0]))
    with pytest.raises(ValueError, match="'order' must be numeric"):
        validate_table(good.assign(order=["a", "b"]))
    with pytest.raises(TypeError, match="DataFrame"):
        validate_table({"user_id": [1]})


# ---------------------------------------------------------------------------- three-line


def test_three_line_with_and_without_trailing_commas(tmp_path):
    path = write(tmp_path, "seq.csv", "3\n5,6,5,\n1,0,1,\n1\n9\n0\n\n")
    table, report = read_three_line(path)
    assert rows(table) == [(0, 5, 5, 1, 0), (0, 6, 6, 0, 1), (0, 5, 5, 1, 2), (1, 9, 9, 0, 0)]
    assert report.n_rows_read == report.n_rows_kept == 4 and report.dropped == {}
    assert read_log(path)[1].format == "three-line"


@pytest.mark.parametrize(
    "text, message",
    [
        ("3\n5,6\n1,0\n", r"seq.csv:1-3: mismatched lengths: count line says 3, skill line has 2"),
        ("2\n5,6\n1,0\n2\n1,2\n1\n", r"seq.csv:4-6: mismatched lengths"),
        ("2\n5,x\n1,0\n", r"seq.csv:2: skill ids must be comma-separated integers; found 'x'"),
        ("2\n5,6\n1,2\n", r"seq.csv:3: correctness must be 0 or 1; found \[2\]"),
        ("two\n5,6\n1,0\n", r"seq.csv:1: expected the number of attempts"),
        ("2\n5,6\n", r"seq.csv:2: three-line format needs 3 lines per student"),
        ("  \n\n", r"seq.csv: file is empty"),
    ],
)
def test_three_line_errors_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path, "seq.csv", text)
    with pytest.raises(ValueError, match=message):
        read_three_line(path)


# ---------------------------------------------------------------------------- matrix


def test_matrix_reader_and_missing_answers(tmp_path):
    path = write(tmp_path, "m.csv", "0,1,1\n1,,0\n")
    table, report = read_matrix(path)
    assert rows(table) == [
        (0, 0, 0, 0, 0),
        (0, 1, 1, 1, 1),
        (0, 2, 2, 1, 2),
        (1, 0, 0, 1, 0),
        (1, 2, 2, 0, 2),
    ]
    assert report.n_rows_read == 6 and report.n_rows_kept == 5
    assert report.dropped == {"missing answer (empty field)": 1}
    assert report.examples["missing answer (empty field)"] == [f"{path}:2"]
    assert "dropped 1: missing answer" in str(report)
    assert json.loads(json.dumps(report.to_dict()))["dropped"] == report.dropped
    with pytest.raises(ValueError, match=r"m2.csv:2: row has 2 answers, the first row has 3"):
        read_matrix(write(tmp_path, "m2.csv", "0,1,1\n1,0\n"))
    with pytest.raises(ValueError, match=r"m3.csv:1: answers must be 0 or 1.*'0.5'"):
        read_matrix(write(tmp_path, "m3.csv", "0,0.5,1\n"))


# ---------------------------------------------------------------------------- pyKT


def test_pykt_expands_keeps_fold_drops_padding(tmp_path):
    text = (
        "fold,uid,questions,concepts,responses,selectmasks,is_repeat\n"
        '2,17,"4,4,9,-1","1,2,3,-1","1,0,1,-1","1,1,1,-1","0,1,0,-1"\n'
        '0,30,"5","1","0","1","0"\n'
        '2,17,"8","1","1","1","0"\n'
    )
    path = write(tmp_path, "pykt.csv", text)
    table, report = read_log(path)
    assert report.format == "pykt"
    # question 4 carries concepts 1 and 2 (is_repeat=1): one attempt, order 0 for both
    assert rows(
        table, ("user_id", "item_id", "skill_id", "correct", "order", "fold", "window")
    ) == [
        (17, 4, 1, 1, 0, 2, 0),
        (17, 4, 2, 0, 0, 2, 0),
        (17, 9, 3, 1, 1, 2, 0),
        (17, 8, 1, 1, 2, 2, 1),
        (30, 5, 1, 0, 0, 0, 0),
    ]
    assert report.n_rows_read == 6 and report.dropped == {"padding (-1)": 1}
    assert report.examples["padding (-1)"] == [f"{path}:2"]


@pytest.mark.parametrize(
    "text, message",
    [
        ('fold,uid,concepts,responses\n0,1,"1,2","1"\n', r"p.csv:2: mismatched list lengths"),
        ('fold,uid,concepts,responses\n0,1,"1,2","1,3"\n', r"p.csv:2 column 'responses'.*found 3"),
        ('fold,uid,concepts\n0,1,"1,2"\n', r"lacks column\(s\) \['responses'\]"),
        ('fold,uid,concepts,responses\n0,1,"1,a","1,0"\n', r"p.csv:2 column 'concepts'.*'a'"),
    ],
)
def test_pykt_errors(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_pykt(write(tmp_path, "p.csv", text))


# ---------------------------------------------------------------------------- interactions


ASSISTMENTS = (
    "order_id,assignment_id,user_id,problem_id,correct,skill_id,skill_name\n"
    "10,1,70,5,1,3,Area\n"
    "11,1,70,6,0,,\n"
    "11,1,70,6,0,4,Perimeter\n"
    "9,1,80,5,1,3,Area\n"
    "12,1,70,7,1,3,Area\n"
)


def test_assistments_columns_and_dropped_rows(tmp_path):
    path = write(tmp_path, "skill_builder.csv", ASSISTMENTS)
    before = path.read_bytes()
    table, report = read_log(path)
    assert report.format == "interactions"
    assert rows(table) == [
        (70, 5, 3, 1, 10),
        (70, 6, 4, 0, 11),
        (70, 7, 3, 1, 12),
        (80, 5, 3, 1, 9),
    ]
    assert table["assignment_id"].tolist() == [1] * 4  # extra columns kept, types inferred
    assert report.n_rows_read == 5 and report.n_rows_kept == 4
    assert report.dropped == {"missing skill_id (column 'skill_id')": 1}
    assert report.examples["missing skill_id (column 'skill_id')"] == [f"{path}:3"]
    assert path.read_bytes() == before


def test_pybkt_skill_names_become_codes(tmp_path):
    path = write(
        tmp_path,
        "pybkt.csv",
        "user_id,skill_name,correct,order_id,problem_id\n"
        "u1,Circle,1,1,p9\nu1,Box,0,2,p3\nu2,Box,1,1,p3\n",
    )
    table, report = read_interactions(path)
    assert report.skill_names == ["Box", "Circle"] and table.attrs["skill_names"] == [
        "Box",
        "Circle",
    ]
    assert report.item_names == ["p3", "p9"]
    assert rows(table) == [("u1", 1, 1, 1, 1), ("u1", 0, 0, 0, 2), ("u2", 0, 0, 1, 1)]


def test_datashop_kc_split_into_one_attempt(tmp_path):
    path = write(
        tmp_path,
        "ds.txt",
        "Row\tAnon Student Id\tProblem Name\tKC(Default)\tCorrect First Attempt\n"
        "1\tS1\tP1\tA~~B\t1\n2\tS1\tP2\tA\t0\n",
    )
    table, report = read_log(path)
    assert rows(table) == [("S1", 0, 0, 1, 1), ("S1", 0, 1, 1, 1), ("S1", 1, 0, 0, 2)]
    assert report.n_rows_read == 3


def test_column_mapping_and_missing_columns(tmp_path):
    path = write(
        tmp_path, "log.csv", "who,what,ok,when\n1,2,1,2020-01-02 10:00\n1,3,0,2020-01-01\n"
    )
    with pytest.raises(ValueError, match=r"no column for 'user_id'; tried .*'Anon Student Id'"):
        read_interactions(path)
    with pytest.raises(ValueError, match="could not detect the format.*interactions"):
        read_log(path)
    table, report = read_log(
        path, columns={"user_id": "who", "skill_id": "what", "correct": "ok", "order": "when"}
    )
    assert rows(table, ("skill_id", "correct")) == [(3, 0), (2, 1)]  # sorted by time
    assert table["order"].dtype == np.int64
    with pytest.raises(ValueError, match="'nope' \\(given for 'skill_id'\\) not in the file"):
        read_log(path, columns={"user_id": "who", "skill_id": "nope", "correct": "ok"})
    with pytest.raises(ValueError, match="keys must be canonical names"):
        read_log(path, columns={"who": "user_id"})


def test_non_binary_correct_names_lines(tmp_path):
    path = write(tmp_path, "bad.csv", "user_id,skill_id,correct\n1,2,1\n1,2,2\n1,3,0.5\n")
    expected = r"must be 0 or 1 \(2 bad rows\).*bad.csv:3: '2', .*bad.csv:4: '0.5'"
    with pytest.raises(ValueError, match=expected):
        read_log(path)


def test_encoding_error_and_latin1_option(tmp_path):
    text = "user_id,skill_name,correct\n1,Fraction\u00e9,1\n"
    path = write(tmp_path, "latin.csv", text, encoding="latin-1")
    with pytest.raises(ValueError, match=r"latin.csv:2: cannot decode .* encoding='latin-1'"):
        read_log(path)
    table, report = read_log(path, encoding="latin-1")
    assert report.skill_names == ["Fraction\u00e9"]
    with pytest.raises(ValueError, match="unknown encoding"):
        read_log(path, format="interactions", encoding="no-such-codec")


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow")
    frame = pd.DataFrame(
        {
            "user_id": [3, 3, 1],
            "problem_id": [10, 11, 10],
            "skill_id": [1.0, None, 1.0],
            "correct": [1, 0, 0],
            "order_id": [1, 2, 0],
        }
    )
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    table, report = read_log(path)
    assert rows(table) == [(3, 10, 1, 1, 1), (1, 10, 1, 0, 0)]
    assert report.examples["missing skill_id (column 'skill_id')"] == [f"{path}:row 1"]


def test_detection_failures_and_bad_format(tmp_path):
    path = write(tmp_path, "x.csv", "hello world\nfoo\n")
    with pytest.raises(ValueError, match="tried pykt: .*three-line: .*matrix: .*interactions: "):
        detect_format(path)
    with pytest.raises(ValueError, match=r"format \(--format, format=\) must be one of"):
        read_log(path, format="excel")
    with pytest.raises(ValueError, match="columns= applies only"):
        read_log(path, format="matrix", columns={"user_id": "a"})
    matrix = write(tmp_path, "m.csv", "0,1\n1,1\n")
    assert read_log(matrix, format="matrix")[1].format == "matrix"
    with pytest.raises(ValueError, match="three-line format needs 3 lines"):
        read_log(matrix, format="three-line")


# ---------------------------------------------------------------------------- fuzzing

TOKENS = st.sampled_from(
    [
        "0",
        "1",
        "2",
        "-1",
        "7",
        ",",
        ",",
        ",",
        "\n",
        "\n",
        '"',
        " ",
        "a",
        "0.5",
        "\t",
        "~~",
        "\u00e9",
        "\x00",
        "NA",
        "nan",
        "99999999999999999999",
    ]
)
HEADERS = st.sampled_from(
    [
        "",
        "fold,uid,concepts,responses\n",
        "fold,uid,questions,concepts,responses,is_repeat\n",
        "user_id,skill_id,correct,order_id\n",
        "user_id,skill_name,correct\n",
        "user_id,problem_id,skill_id,correct,extra\n",
        "user_id,user_id,skill_id,correct\n",
        "Anon Student Id\tKC(Default)\tCorrect First Attempt\n",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=HEADERS,
    body=st.lists(TOKENS, max_size=60).map("".join),
    format=st.sampled_from(["auto", "interactions", "three-line", "pykt", "matrix"]),
    raw=st.binary(max_size=4),
)
def test_malformed_files_raise_only_value_error(header, body, format, raw):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes((header + body).encode("utf-8") + raw)
        try:
            table, report = read_log(path, format=format)
        except ValueError as error:
            assert str(error)  # a message, not a bare error
        else:
            validate_table(table)
            assert report.n_rows_kept == len(table)
            assert report.n_rows_kept + report.n_dropped == report.n_rows_read  # none silently


# ---------------------------------------------------------------------------- real data

DATA = default_data_dir()


def real_file(relative):
    path = DATA / relative
    if not path.is_file():
        pytest.skip(f"shared data file {path} absent (set RILEY_DATA_DIR to the data folder)")
    return path


def head_lines(path, n_lines, tmp_path):
    lines = path.read_text().splitlines()[:n_lines]
    return write(tmp_path, path.name, "\n".join(lines) + "\n"), lines


def test_real_three_line_slice_matches_plain_parse(tmp_path):
    path, lines = head_lines(real_file("assist2009_builder/builder_train.csv"), 30, tmp_path)
    table, report = read_log(path)
    expected = []
    for student in range(10):
        skills = [int(s) for s in lines[3 * student + 1].split(",") if s]
        answers = [int(s) for s in lines[3 * student + 2].split(",") if s]
        expected += [(student, k, k, c, i) for i, (k, c) in enumerate(zip(skills, answers))]
    assert rows(table) == expected and report.dropped == {}


def test_real_pykt_slice_matches_plain_parse(tmp_path):
    path, lines = head_lines(real_file("assist2015_pykt/test.csv"), 21, tmp_path)
    table, report = read_log(path)
    frame = pd.read_csv(path)
    expected = []
    for record in frame.itertuples(index=False):
        concepts = [int(c) for c in record.concepts.split(",")]
        responses = [int(r) for r in record.responses.split(",")]
        expected += [
            (record.uid, c, r, i, record.fold)
            for i, (c, r) in enumerate(zip(concepts, responses))
            if r != -1
        ]
    assert rows(table, ("user_id", "skill_id", "correct", "order", "fold")) == expected
    assert report.format == "pykt"


def test_real_matrix_slice_and_full_counts(tmp_path):
    full_path = real_file("synthetic5/naive_c5_q50_s4000_v0.csv")
    path, lines = head_lines(full_path, 20, tmp_path)
    table, _ = read_log(path)
    expected = np.array([[int(v) for v in line.split(",")] for line in lines])
    assert table["correct"].to_numpy().reshape(20, 50).tolist() == expected.tolist()
    table, report = read_log(full_path)  # README: 4000 students x 50 exercises
    assert table["user_id"].nunique() == 4000 and table["skill_id"].nunique() == 50
    assert report.n_rows_kept == 200_000


def test_real_full_files_match_readme_student_counts():
    # README of the shared data: 856 test students (2009 builder), 3818 (2015 pyKT test)
    table, report = read_log(real_file("assist2009_builder/builder_test.csv"))
    assert table["user_id"].nunique() == 856 and report.dropped == {}
    table, report = read_log(real_file("assist2015_pykt/test.csv"))
    assert table["user_id"].nunique() == 3818 and set(table["fold"]) == {-1}


# ---------------------------------------------------------------------------- docs


@pytest.mark.parametrize(
    "module_name",
    [
        "riley_gym.kt.data.table",
        "riley_gym.kt.data.attempts",
        "riley_gym.kt.data.splits",
        "riley_gym.kt.data.metrics",
    ],
)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------- issue 18: rows
# Every reader: rows kept + rows reported dropped == rows read, and every kept row maps back
# (source_line, source_entry) to exactly one input entry, with that entry's values. Each
# strategy writes a file and an oracle: one record per input entry, kept or dropped (why).

PROVENANCE = ("source_line", "source_entry")


def check_against_oracle(table, report, entries, value_columns):
    """``entries``: dicts with ``line``, ``entry``, ``dropped`` (reason or None) and the values
    of ``value_columns`` the kept row must have."""
    assert report.n_rows_read == len(entries)
    assert report.n_rows_kept == len(table) and report.n_rows_kept + report.n_dropped == len(
        entries
    )
    expected_dropped = {}
    for entry in entries:
        if entry["dropped"] is not None:
            expected_dropped[entry["dropped"]] = expected_dropped.get(entry["dropped"], 0) + 1
    assert report.dropped == expected_dropped
    places = list(zip(table["source_line"].tolist(), table["source_entry"].tolist()))
    assert len(set(places)) == len(places)  # no input entry behind two kept rows
    by_place = {(e["line"], e["entry"]): e for e in entries}
    kept = {(e["line"], e["entry"]) for e in entries if e["dropped"] is None}
    assert set(places) == kept
    got = table[list(value_columns)].to_dict("records")
    for place, row in zip(places, got):
        assert row == {c: by_place[place][c] for c in value_columns}, (place, row)


@st.composite
def three_line_files(draw):
    students = draw(
        st.lists(
            st.lists(st.tuples(st.integers(0, 30), st.integers(0, 1)), max_size=6),
            min_size=1,
            max_size=6,
        )
    )
    lines, entries = [], []
    for student, attempts in enumerate(students):
        comma = "," if draw(st.booleans()) else ""
        count_line = str(len(attempts)) + ("," if draw(st.booleans()) else "")
        skills = ",".join(str(s) for s, _ in attempts) + comma
        answers = ",".join(str(c) for _, c in attempts) + comma
        if not attempts and draw(st.booleans()):
            skills, answers = ",", ","  # a zero-attempt student written with trailing commas
        for position, (skill, correct) in enumerate(attempts):
            entries.append(
                dict(
                    line=len(lines) + 2,
                    entry=position,
                    dropped=None,
                    user_id=student,
                    skill_id=skill,
                    correct=correct,
                    order=position,
                )
            )
        lines += [count_line, skills, answers]
    text = "\n".join(lines) + "\n" * draw(st.integers(0, 3))
    if not students[-1] and draw(st.booleans()):
        text = "\n".join(lines[:-2])  # the last zero-attempt student leaves out its lines
    n_empty = sum(1 for s in students if not s)
    return text, entries, n_empty


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=three_line_files())
def test_three_line_keeps_or_counts_every_row(case):
    text, entries, n_empty = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seq.csv"
        path.write_text(text)
        if not entries:
            with pytest.raises(ValueError, match="no attempts: all .* students have 0 attempts"):
                read_three_line(path)
        else:
            table, report = read_three_line(path)
            check_against_oracle(
                table, report, entries, ("user_id", "skill_id", "correct", "order")
            )
            assert report.decisions.get("student with no attempts (no rows)", 0) == n_empty


@st.composite
def matrix_files(draw):
    n_exercises = draw(st.integers(2, 6))  # one column: see test_one_column_matrix_trailing
    cells = draw(
        st.lists(
            st.lists(
                st.sampled_from(["0", "1", "", " 1", "0 "]),
                min_size=n_exercises,
                max_size=n_exercises,
            ),
            min_size=1,
            max_size=6,
        )
    )
    entries = [
        dict(
            line=row + 1,
            entry=column,
            dropped="missing answer (empty field)" if value.strip() == "" else None,
            user_id=row,
            skill_id=column,
            correct=int(value) if value.strip() else None,
            order=column,
        )
        for row, line in enumerate(cells)
        for column, value in enumerate(line)
    ]
    return "\n".join(",".join(line) for line in cells) + "\n", entries


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=matrix_files())
def test_matrix_keeps_or_counts_every_row(case):
    text, entries = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.csv"
        path.write_text(text)
        if all(e["dropped"] for e in entries):
            with pytest.raises(ValueError, match="no usable rows: read .*, dropped all"):
                read_matrix(path)
        else:
            table, report = read_matrix(path)
            check_against_oracle(
                table, report, entries, ("user_id", "skill_id", "correct", "order")
            )


@st.composite
def pykt_files(draw):
    """pyKT rows: questions of 1-2 concepts (is_repeat=1 for the second), -1 padding at the
    end, repeated uids (windows: order continues)."""
    header = "fold,uid,questions,concepts,responses,is_repeat\n"
    lines, entries = [header.rstrip("\n")], []
    attempts_of: dict[int, int] = {}
    windows_of: dict[int, int] = {}
    for _ in range(draw(st.integers(1, 5))):
        uid, fold = draw(st.integers(1, 3)), draw(st.integers(0, 4))
        window = windows_of.get(uid, 0)
        windows_of[uid] = window + 1
        lists = {"questions": [], "concepts": [], "responses": [], "is_repeat": []}
        for _ in range(draw(st.integers(0, 4))):
            question, correct = draw(st.integers(0, 50)), draw(st.integers(0, 1))
            concepts = draw(st.lists(st.integers(0, 9), min_size=1, max_size=2))
            order = attempts_of.get(uid, 0)
            attempts_of[uid] = order + 1
            for k, concept in enumerate(concepts):
                entries.append(
                    dict(
                        line=len(lines) + 1,
                        entry=len(lists["concepts"]),
                        dropped=None,
                        user_id=uid,
                        item_id=question,
                        skill_id=concept,
                        correct=correct,
                        order=order,
                        fold=fold,
                        window=window,
                        is_repeat=int(k > 0),
                    )
                )
                for name, value in zip(lists, (question, concept, correct, int(k > 0))):
                    lists[name].append(value)
        for _ in range(draw(st.integers(0, 3))):
            entries.append(
                dict(line=len(lines) + 1, entry=len(lists["concepts"]), dropped="padding (-1)")
            )
            for name in lists:
                lists[name].append(-1)
        if not lists["concepts"]:
            lists = {name: [-1] for name in lists}  # pyKT never writes an empty list
            entries.append(dict(line=len(lines) + 1, entry=0, dropped="padding (-1)"))
        quoted = ",".join('"' + ",".join(map(str, lists[n])) + '"' for n in lists)
        lines.append(f"{fold},{uid},{quoted}")
    # The same concept twice in one question, both repeats: an exact duplicate (dropped).
    seen = set()
    columns = ("user_id", "item_id", "skill_id", "correct", "order", "fold", "window", "is_repeat")
    for entry in entries:
        if entry["dropped"] is None:
            key = tuple(entry[c] for c in columns)
            if key in seen:
                entry["dropped"] = "exact duplicate row (duplicates='drop')"
            seen.add(key)
    return "\n".join(lines) + "\n", entries, columns


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=pykt_files())
def test_pykt_keeps_or_counts_every_row(case):
    text, entries, columns = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.csv"
        path.write_text(text)
        if all(e["dropped"] for e in entries):
            with pytest.raises(ValueError, match="no usable rows: read .*, dropped all"):
                read_pykt(path)
        else:
            table, report = read_pykt(path)
            check_against_oracle(table, report, entries, columns)


NAMES = st.sampled_from(["Area", "Box", "circle", "Zeta", "x y"])
NOTES = st.sampled_from(["", "ok", "a, b", 'say "hi"', "two\nlines", "x\n\ny"])


def csv_field(text):
    if any(ch in text for ch in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


@st.composite
def interaction_files(draw):
    """An ASSISTments-style CSV: some rows miss a value, some repeat an earlier row exactly,
    some notes are quoted and span lines, some lines are blank."""
    named = draw(st.booleans())
    header = ["user_id", "problem_id", "skill_name" if named else "skill_id", "correct"]
    header += ["order_id", "note"]
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        if rows and draw(st.integers(0, 4)) == 4:
            rows.append(list(draw(st.sampled_from(rows))))  # an exact duplicate
            continue
        user = draw(st.sampled_from(["7", "8", "u9"]))
        skill = draw(NAMES) if named else str(draw(st.integers(0, 20)))
        row = [user, str(draw(st.integers(0, 99))), skill, str(draw(st.integers(0, 1)))]
        row += [str(draw(st.integers(0, 5))), draw(NOTES)]
        if draw(st.integers(0, 5)) == 5:
            row[draw(st.integers(0, 4))] = draw(st.sampled_from(["", "NA", "nan"]))
        rows.append(row)
    lines, line_number, entries, seen, n_blank = [",".join(header)], 2, [], set(), 0
    canonical = ("user_id", "item_id", "skill_id", "correct", "order")
    for row in rows:
        for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 2]))):
            lines.append("")  # a blank line: no row
            line_number += 1
            n_blank += 1
        missing = [c for c, v in zip(canonical, row) if v.strip().lower() in ("", "na", "nan")]
        # the reader counts a row missing values under the first of these columns
        first_missing = next(
            (c for c in ("user_id", "skill_id", "correct", "item_id", "order") if c in missing),
            None,
        )
        column_of = dict(zip(canonical, header[:5]))
        dropped = None
        if first_missing:
            dropped = f"missing {first_missing} (column {column_of[first_missing]!r})"
        if dropped is None:
            if tuple(row) in seen:
                dropped = "exact duplicate row (duplicates='drop')"
            seen.add(tuple(row))
        entries.append(
            dict(
                line=line_number,
                entry=0,
                dropped=dropped,
                user_id=row[0],
                item_id=row[1],
                skill_id=row[2],
                correct=row[3],
                order=row[4],
                note=row[5],
            )
        )
        text = ",".join(csv_field(v) for v in row)
        lines.append(text)
        line_number += text.count("\n") + 1
    return "\n".join(lines) + "\n", entries, named, n_blank


def as_written(value):
    """A field as the reader is expected to give it back: integers as int, else the text."""
    return int(value) if value.lstrip("-").isdigit() else value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=interaction_files(), keep=st.booleans())
def test_interactions_keep_or_count_every_row(case, keep):
    text, entries, named, n_blank = case
    if keep:  # duplicates="keep": the same rows, the duplicates kept and counted instead
        n_kept_duplicates = sum(1 for e in entries if e["dropped"] and "duplicate" in e["dropped"])
        for entry in entries:
            if entry["dropped"] and "duplicate" in entry["dropped"]:
                entry["dropped"] = None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.csv"
        path.write_text(text)
        if all(e["dropped"] for e in entries):
            with pytest.raises(ValueError, match="no usable rows: read .*, dropped all"):
                read_interactions(path, duplicates="keep" if keep else "drop")
            return
        table, report = read_interactions(path, duplicates="keep" if keep else "drop")
        if named:  # names map to codes; compare the names back
            table = table.assign(skill_id=[report.skill_names[c] for c in table["skill_id"]])
        notes = table["note"].astype(object)
        table = table.assign(note=notes.where(notes.notna(), ""))
        for entry in entries:
            if entry["dropped"] is None:
                for column in ("user_id", "item_id", "correct", "order"):
                    entry[column] = as_written(entry[column])
                if not named:
                    entry["skill_id"] = int(entry["skill_id"])
        users = {e["user_id"] for e in entries if e["dropped"] is None}
        if any(isinstance(u, str) for u in users):  # one string id: all are kept as strings
            table = table.assign(user_id=table["user_id"].astype(str))
            for entry in entries:
                entry["user_id"] = str(entry["user_id"])
        check_against_oracle(
            table, report, entries, ("user_id", "item_id", "skill_id", "correct", "order", "note")
        )
        if keep:
            assert report.decisions.get("exact duplicate row, kept (duplicates='keep')", 0) == (
                n_kept_duplicates
            )
        assert report.decisions.get("blank line (no values), skipped", 0) == n_blank


@st.composite
def datashop_files(draw):
    """A DataShop export (tab-separated): KC cells list skills with "~~", one attempt each;
    an empty part is a missing skill, the same skill twice an exact duplicate."""
    lines = ["Row\tAnon Student Id\tProblem Name\tKC(Default)\tCorrect First Attempt"]
    entries, seen = [], set()
    for row in range(1, draw(st.integers(1, 8)) + 1):
        student, problem = draw(st.sampled_from(["S1", "S2"])), draw(st.sampled_from(["P1", "P2"]))
        skills = draw(st.lists(st.sampled_from(["A", "B", "C d", ""]), min_size=1, max_size=3))
        correct = draw(st.integers(0, 1))
        for position, skill in enumerate(skills):
            key = (student, problem, skill, correct, row)
            dropped = "missing skill_id (column 'KC(Default)')" if skill == "" else None
            if dropped is None and key in seen:
                dropped = "exact duplicate row (duplicates='drop')"
            seen.add(key)
            entries.append(
                dict(
                    line=len(lines) + 1,
                    entry=position,
                    dropped=dropped,
                    user_id=student,
                    item_id=problem,
                    skill_id=skill,
                    correct=correct,
                    order=row,
                )
            )
        lines.append(f"{row}\t{student}\t{problem}\t{'~~'.join(skills)}\t{correct}")
    return "\n".join(lines) + "\n", entries


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=datashop_files())
def test_datashop_keeps_or_counts_every_row(case):
    text, entries = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ds.txt"
        path.write_text(text)
        if all(e["dropped"] for e in entries):
            with pytest.raises(ValueError, match="no usable rows: read .*, dropped all"):
                read_log(path)
            return
        table, report = read_log(path)
        table = table.assign(
            skill_id=[report.skill_names[c] for c in table["skill_id"]],
            item_id=[report.item_names[c] for c in table["item_id"]],
        )
        check_against_oracle(
            table, report, entries, ("user_id", "item_id", "skill_id", "correct", "order")
        )


# ---------------------------------------------------------------------------- issue 18: cases

LOG_HEADER = "user_id,skill_id,correct,order_id\n"


@pytest.mark.parametrize(
    "orders, message",
    [
        # item 1: beyond int64 a float64 rounds both to 1e20, merging two attempts into one
        (
            ["99999999999999999999", "99999999999999999998"],
            r"o.csv:2 column 'order_id': order value 99999999999999999999 is beyond the 64-bit "
            r"integer range",
        ),
        (["1", "18446744073709551615"], r"o.csv:3 column 'order_id': .* beyond the 64-bit"),
        (["-9223372036854775809", "1"], r"o.csv:2 column 'order_id': .* beyond the 64-bit"),
        (
            ["9007199254740993", "9007199254740992", "0.5"],
            r"o.csv:3 column 'order_id': order value '9007199254740992' differs from "
            r"'9007199254740993' \(.*o.csv:2 column 'order_id'\) but both are the same 64-bit "
            r"float",
        ),
        # item 4: numbers mixed with dates, in either order; mixed UTC offsets
        (
            ["5", "2020-01-01"],
            r"o.csv:3 column 'order_id': order value '2020-01-01' is a date but the first "
            r"row's, '5', is a number",
        ),
        (["2020-01-01", "2020-01-02", "7"], r"o.csv:4 column 'order_id': .* is a number but"),
        (
            ["2020-01-01T00:00+01:00", "2020-01-02T00:00+02:00"],
            r"o.csv:3 column 'order_id': timestamp '2020-01-02T00:00\+02:00' has UTC offset "
            r"\+02:00 but the first row's, '2020-01-01T00:00\+01:00', has \+01:00",
        ),
        (["2020-01-01T00:00Z", "2020-01-01T05:00"], r"o.csv:3 .* has UTC offset none .* \+00:00"),
        (["1", "soon"], r"o.csv:3 column 'order_id': order value 'soon' is neither a number"),
        (["1", "inf"], r"o.csv:3 column 'order_id': order value 'inf' is not finite"),
    ],
)
def test_order_values_kept_exactly_or_refused(tmp_path, orders, message):
    rows = "".join(f"1,{k},1,{order}\n" for k, order in enumerate(orders))
    with pytest.raises(ValueError, match=message):
        read_log(write(tmp_path, "o.csv", LOG_HEADER + rows))


def test_order_values_exact_examples(tmp_path):
    # 2**53 + 1 survives (float64 would make it 2**53); the int64 extremes too
    big = ["9007199254740993", "9007199254740992.0", "9223372036854775807", "-9223372036854775808"]
    rows = "".join(f"1,{k},1,{order}\n" for k, order in enumerate(big))
    table, _ = read_log(write(tmp_path, "o.csv", LOG_HEADER + rows))
    assert table["order"].tolist() == [-(2**63), 2**53, 2**53 + 1, 2**63 - 1]
    assert table["skill_id"].tolist() == [3, 1, 0, 2]
    # one UTC offset: converted to UTC; 2020-01-01T00:00+01:00 is 2019-12-31T23:00Z
    rows = "1,0,1,2020-01-01T00:00+01:00\n1,1,0,2020-01-01T00:30+01:00\n"
    table, report = read_log(write(tmp_path, "tz.csv", LOG_HEADER + rows))
    hour = 3600 * 10**9
    assert table["order"].tolist() == [1577833200 * 10**9, 1577833200 * 10**9 + hour // 2]
    assert any("converted to UTC" in note for note in report.notes)


def test_duplicate_rows_policy(tmp_path):
    # item 2: line 3 repeats line 2 exactly; line 4 is another skill of the same attempt
    text = LOG_HEADER + "1,3,1,5\n1,3,1,5\n1,4,1,5\n2,3,0,5\n"
    path = write(tmp_path, "dup.csv", text)
    table, report = read_log(path)  # default: drop, counted with the line it repeats
    assert rows(table, ("user_id", "skill_id", "order", "source_line")) == [
        (1, 3, 5, 2),
        (1, 4, 5, 4),
        (2, 3, 5, 5),
    ]
    reason = "exact duplicate row (duplicates='drop')"
    assert report.dropped == {reason: 1}
    assert report.examples[reason] == [f"{path}:3 (same as {path}:2)"]
    table, report = read_log(path, duplicates="keep")
    assert table["source_line"].tolist() == [2, 3, 4, 5] and report.dropped == {}
    assert report.decisions == {"exact duplicate row, kept (duplicates='keep')": 1}
    with pytest.raises(ValueError, match=r"dup.csv:3 \(same as .*dup.csv:2\): exact duplicate"):
        read_log(path, duplicates="error")
    with pytest.raises(ValueError, match=r"duplicates must be one of \['drop', 'keep', 'error'\]"):
        read_log(path, duplicates="merge")
    # without an order column every line is its own attempt: no duplicates
    table, report = read_log(
        write(tmp_path, "no_order.csv", "user_id,skill_id,correct\n1,3,1\n1,3,1\n")
    )
    assert table["order"].tolist() == [2, 3] and report.dropped == {}


def test_pykt_duplicate_concept_in_one_question_is_counted(tmp_path):
    text = 'fold,uid,questions,concepts,responses,is_repeat\n0,1,"4,4,4","2,5,5","1,1,1","0,1,1"\n'
    table, report = read_pykt(write(tmp_path, "p.csv", text))
    assert rows(table, ("skill_id", "order", "source_entry")) == [(2, 0, 0), (5, 0, 1)]
    assert report.examples["exact duplicate row (duplicates='drop')"] == [
        f"{tmp_path / 'p.csv'}:2 entry 2 (same as {tmp_path / 'p.csv'}:2 entry 1)"
    ]


@pytest.mark.parametrize(
    "name, text, message",
    [
        # item 3: -1 is padding only in pyKT files; other negative ids are refused
        ("seq.csv", "2\n1,-1\n1,0\n", r"seq.csv:2 position 2: skill id -1 is negative"),
        (
            "log.csv",
            LOG_HEADER + "1,4,1,1\n1,-5,1,2\n",
            r"log.csv:3 column 'skill_id': skill id -5 is negative \(1 negative in all\); ids "
            r"must be >= 0 \(-1 is padding only in pyKT files, format='pykt'\)",
        ),
        (
            "items.csv",
            "user_id,problem_id,skill_id,correct\n1,-2,4,1\n",
            r"items.csv:2 column 'problem_id': item id -2 is negative",
        ),
        (
            "p.csv",
            'fold,uid,concepts,responses\n0,1,"1,-5,-1","1,0,-1"\n',
            r"p.csv:2 column 'concepts' position 2: id -5 is negative",
        ),
        (
            "q.csv",
            'fold,uid,questions,concepts,responses\n0,1,"-3","1","1"\n',
            r"q.csv:2 column 'questions' position 1: id -3 is negative",
        ),
        (
            "big.csv",
            "user_id,skill_id,correct\n1,99999999999999999999,1\n",
            r"big.csv:2 column 'skill_id': skill id 99999999999999999999 is beyond the 64-bit",
        ),
        # pyKT's is_repeat must repeat the question of the entry before
        (
            "r.csv",
            'fold,uid,questions,concepts,responses,is_repeat\n0,1,"4,5","1,2","1,1","1,0"\n',
            r"r.csv:2 column 'is_repeat' position 1: is_repeat=1 on the student's first entry",
        ),
        (
            "r2.csv",
            'fold,uid,questions,concepts,responses,is_repeat\n0,1,"4,5","1,2","1,1","0,1"\n',
            r"r2.csv:2 column 'is_repeat' position 2: is_repeat=1 but the question 5 differs",
        ),
        (
            "r3.csv",
            'fold,uid,concepts,responses,is_repeat\n0,1,"1,2","1,1","0,2"\n',
            r"r3.csv:2 column 'is_repeat' position 2: is_repeat must be 0 or 1, found 2",
        ),
        # item 6: a header without data rows, and a file whose every row is dropped
        ("h.csv", "user_id,skill_id,correct\n", r"h.csv: the file has a header but no data rows"),
        ("hp.csv", "fold,uid,concepts,responses\n", r"hp.csv: the file has a header but no"),
        (
            "all.csv",
            "user_id,skill_id,correct\n1,,1\n2,NA,0\n",
            r"all.csv: no usable rows: read 2, dropped all \(2 missing skill_id",
        ),
        ("pad.csv", 'fold,uid,concepts,responses\n0,1,"-1","-1"\n', r"pad.csv: no usable rows"),
        ("zero.csv", "0\n\n\n0\n,\n,\n", r"zero.csv: no attempts: all 2 students have 0 attempts"),
        # provenance columns cannot come from the file
        ("prov.csv", "user_id,skill_id,correct,source_line\n1,2,1,9\n", r"\['source_line'\] would"),
    ],
)
def test_bad_ids_and_empty_files_are_refused(tmp_path, name, text, message):
    with pytest.raises(ValueError, match=message):
        read_log(write(tmp_path, name, text), format="three-line" if name == "zero.csv" else "auto")


@pytest.mark.parametrize(
    "text",
    [
        "2\n5,6\n1,0\n0\n\n\n",  # item 5: the last student has 0 attempts (blank lines)
        "2\n5,6\n1,0\n0\n",  # ... and leaves its empty lines out
        "2\n5,6\n1,0\n0,\n,\n,\n",  # ... written with trailing commas
        "0\n,\n,\n2\n5,6,\n1,0,\n",  # the first student has 0 attempts
    ],
)
def test_three_line_students_without_attempts_are_counted(tmp_path, text):
    path = write(tmp_path, "seq.csv", text)
    table, report = read_log(path)
    assert report.format == "three-line"
    assert rows(table, ("skill_id", "correct", "source_line", "source_entry")) == [
        (5, 1, 2, 0) if text[0] == "2" else (5, 1, 5, 0),
        (6, 0, 2, 1) if text[0] == "2" else (6, 0, 5, 1),
    ]
    first_empty = 4 if text[0] == "2" else 1
    assert report.decisions == {"student with no attempts (no rows)": 1}
    assert report.examples["student with no attempts (no rows)"] == [f"{path}:{first_empty}"]
    assert "counted 1: student with no attempts" in str(report)


def test_quoted_fields_spanning_lines_keep_their_line_numbers(tmp_path):
    text = 'user_id,skill_id,correct,note\n1,3,1,"two\nlines"\n1,,1,x\n2,4,0,"a, b"\n'
    path = write(tmp_path, "notes.csv", text)
    table, report = read_log(path)
    assert rows(table, ("user_id", "skill_id", "source_line", "note")) == [
        (1, 3, 2, "two\nlines"),
        (2, 4, 5, "a, b"),
    ]
    assert report.examples["missing skill_id (column 'skill_id')"] == [f"{path}:4"]


def test_one_column_matrix_trailing_blank_lines_are_counted(tmp_path):
    path = write(tmp_path, "m1.csv", "1\n\n0\n\n\n")  # student 1's answer is missing
    table, report = read_matrix(path)
    assert rows(table, ("user_id", "correct", "source_line")) == [(0, 1, 1), (2, 0, 3)]
    assert report.dropped == {"missing answer (empty field)": 1}
    reason = "blank line at the end of a one-column matrix, not read as a student"
    assert report.decisions == {reason: 2}
    assert report.examples[reason] == [f"{path}:4", f"{path}:5"]


def test_student_ids_that_name_one_integer_stay_apart(tmp_path):
    table, report = read_log(write(tmp_path, "u.csv", "user_id,skill_id,correct\n7,1,1\n007,1,0\n"))
    assert table["user_id"].tolist() == ["7", "007"]
    assert any("007" in note for note in report.notes)


def test_blank_lines_are_counted(tmp_path):
    path = write(tmp_path, "b.csv", "user_id,skill_id,correct\n\n1,2,1\n,,\n")
    table, report = read_log(path)
    assert len(table) == 1 and report.n_rows_read == 1
    assert report.decisions == {"blank line (no values), skipped": 2}
    assert report.examples["blank line (no values), skipped"] == [f"{path}:2", f"{path}:4"]
    text = 'fold,uid,concepts,responses\n\n0,1,"2","1"\n'
    table, report = read_pykt(write(tmp_path, "p.csv", text))
    assert table["source_line"].tolist() == [3]
    assert report.decisions == {"blank line (no values), skipped": 1}


def test_parquet_rows_are_numbered_from_zero(tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow")
    frame = pd.DataFrame(
        {"user_id": [3, 3, None], "skill_id": [1, 1, None], "correct": [1, 1, None]}
    )
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    table, report = read_log(path)
    # an all-null Parquet row is a row (missing values), not a blank line
    assert table["source_line"].tolist() == [0, 1] and report.n_rows_read == 3
    assert report.dropped == {"missing user_id (column 'user_id')": 1}
