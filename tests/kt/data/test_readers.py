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
    with pytest.raises(ValueError, match="format must be one of"):
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
