"""kt.data.sequences: contexts of multi-skill attempts,
windows at attempt boundaries, padded batches."""

import numpy as np
import pandas as pd
import pytest
import torch

from riley_gym.kt.data.sequences import (
    UNKNOWN_SKILL,
    cut_attempt_windows,
    cut_windows,
    drop_unknown_skills,
    encode_table,
    evaluation_rounds,
    make_batches,
)


def _table(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "skill_id", "correct", "order"])


# Student "b" (seen first) then "a"; rows deliberately out of order. Student a's attempt at
# order 5 carries skills 20 and 30 (a two-skill attempt).
HAND_TABLE = _table(
    [
        ("b", 1, 10, 1, 2),
        ("a", 2, 20, 0, 5),
        ("b", 3, 30, 0, 1),
        ("a", 4, 30, 1, 5),
        ("a", 5, 10, 1, 9),
        ("a", 6, 20, 1, 3),
    ]
)


def test_encode_table_orders_rows_and_gives_every_row_of_an_attempt_the_previous_attempt():
    encoded = encode_table(HAND_TABLE, np.array([10, 20, 30]))
    # Sequence order: b@1 (pos 2), b@2 (pos 0), a@3 (pos 5), a@5 (pos 1), a@5 (pos 3), a@9 (pos 4).
    assert encoded.positions.tolist() == [2, 0, 5, 1, 3, 4]
    assert encoded.student.tolist() == [0, 0, 1, 1, 1, 1]
    assert encoded.skill.tolist() == [2, 0, 1, 1, 2, 0]
    assert encoded.correct.tolist() == [0, 1, 1, 0, 1, 1]
    # Context = last row of the previous attempt; both rows of a@5 look at a@3 (index 2),
    # and a@9 looks at the last row of the two-skill attempt (index 4).
    assert encoded.context.tolist() == [-1, 0, -1, 2, 2, 4]
    assert encoded.attempt_start.tolist() == [True, True, True, True, False, True]
    assert encoded.student_start.tolist() == [0, 2, 6]


def test_encode_table_marks_unknown_skills_and_rejects_bad_input():
    encoded = encode_table(HAND_TABLE, np.array([10, 20]))
    assert (encoded.skill == UNKNOWN_SKILL).sum() == 2  # both rows with skill 30
    with pytest.raises(ValueError, match="correct must be 0 or 1"):
        encode_table(HAND_TABLE.assign(correct=[1, 2, 0, 1, 1, 0]), np.array([10, 20, 30]))
    with pytest.raises(ValueError, match="lacks column"):
        encode_table(HAND_TABLE.drop(columns="order"), np.array([10]))


def test_drop_unknown_skills_recomputes_contexts_over_kept_rows():
    encoded = encode_table(HAND_TABLE, np.array([10, 20]))
    reduced, kept = drop_unknown_skills(encoded)
    # Kept in sequence order: b@2, a@3, a@5 (skill 20), a@9.
    assert kept.tolist() == [1, 2, 3, 5]
    assert reduced.positions.tolist() == [0, 5, 1, 4]
    assert reduced.context.tolist() == [-1, -1, 1, 2]
    assert reduced.student_start.tolist() == [0, 1, 4]


def _random_table(seed, n_students=12, multi_skill=True):
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_students):
        order = 0
        for _ in range(int(rng.integers(1, 30))):
            order += 1
            for skill in rng.choice(
                6, size=int(rng.integers(1, 4)) if multi_skill else 1, replace=False
            ):
                rows.append((user, int(skill), int(skill), int(rng.integers(0, 2)), order))
    return _table(rows)


@pytest.mark.parametrize("multi_skill", [True, False], ids=["multi-skill", "one-skill"])
@pytest.mark.parametrize("max_length", [1, 4, 7])
def test_cut_windows_covers_every_row_once_and_cuts_only_between_attempts(multi_skill, max_length):
    encoded = encode_table(_random_table(3, multi_skill=multi_skill), np.arange(6))
    students, starts, ends = cut_windows(encoded, max_length)
    covered = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)])
    assert covered.tolist() == list(range(encoded.n_rows))  # every row once, in order
    assert (encoded.student[starts] == students).all() and (
        encoded.student[ends - 1] == students
    ).all()
    assert encoded.attempt_start[starts].all()  # a window starts with an attempt
    attempt_rows = np.diff(np.r_[np.flatnonzero(encoded.attempt_start), encoded.n_rows])
    longest_attempt = int(attempt_rows.max())
    assert ((ends - starts) <= max(max_length, longest_attempt)).all()
    for start, end in zip(starts, ends):
        if end - start > max_length:  # only a single oversized attempt may exceed the limit
            assert not encoded.attempt_start[start + 1 : end].any()


def test_make_batches_pads_sorted_windows_and_localises_contexts():
    encoded = encode_table(HAND_TABLE, np.array([10, 20, 30]))
    windows = cut_windows(encoded, max_length=2)
    # Student b: rows 0-1; student a: rows 2 | 3-4 (the two-skill attempt) | 5.
    assert windows[1].tolist() == [0, 2, 3, 5] and windows[2].tolist() == [2, 3, 5, 6]
    (batch,) = make_batches(encoded, windows, batch_size=8)
    assert batch.lengths.tolist() == [2, 2, 1, 1]  # longest first, stable
    assert batch.rows.tolist() == [[0, 1], [3, 4], [2, -1], [5, -1]]
    assert batch.students.tolist() == [0, 1, 1, 1]
    assert batch.mask.tolist() == [[True, True], [True, True], [True, False], [True, False]]
    # Within a window a context before the window is -1 (its initial output).
    assert batch.context.tolist() == [[-1, 0], [-1, -1], [-1, -1], [-1, -1]]
    assert batch.skills.tolist() == [[2, 0], [1, 2], [1, 0], [0, 0]]
    assert torch.equal(
        batch.correct, torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    )
    with pytest.raises(ValueError, match="drop_unknown_skills"):
        make_batches(encode_table(HAND_TABLE, np.array([10])), windows, batch_size=2)


def test_evaluation_rounds_score_every_row_exactly_once():
    encoded = encode_table(_random_table(5), np.arange(6))
    rounds = evaluation_rounds(encoded, max_length=5, batch_size=3)
    seen = np.concatenate(
        [batch.rows[batch.mask].numpy() for batches in rounds for batch in batches]
    )
    assert np.sort(seen).tolist() == list(range(encoded.n_rows))
    # Round j holds only j-th windows: a student appears at most once per round, and a
    # window continued in the next round sits in a batch of equal-length windows.
    for number, batches in enumerate(rounds):
        students = np.concatenate([batch.students.numpy() for batch in batches])
        assert len(students) == len(set(students.tolist()))
        continued = set()
        if number + 1 < len(rounds):
            continued = set(
                np.concatenate([batch.students.numpy() for batch in rounds[number + 1]]).tolist()
            )
        for batch in batches:
            if continued & set(batch.students.tolist()):
                assert (batch.lengths == batch.lengths[0]).all()
    assert len(rounds) >= 3 and any(len(batches) > 1 for batches in rounds)


def test_attempt_windows_cut_every_max_attempts_whatever_the_attempt_sizes():
    # Student a: attempts of 1, 3, 1, 2 rows; student b: one attempt of 1 row.
    table = pd.DataFrame(
        {
            "user_id": ["a"] * 7 + ["b"],
            "skill_id": [0, 0, 1, 2, 0, 1, 2, 1],
            "correct": [1, 0, 1, 1, 0, 0, 1, 1],
            "order": [0, 1, 1, 1, 2, 3, 3, 0],
        }
    )
    encoded = encode_table(table, np.array([0, 1, 2]))
    students, starts, ends = cut_attempt_windows(encoded, 2)
    assert students.tolist() == [0, 0, 1]
    assert starts.tolist() == [0, 4, 7] and ends.tolist() == [4, 7, 8]
    one_row = encode_table(table.assign(order=range(8)), np.array([0, 1, 2]))
    for got, expected in zip(cut_attempt_windows(one_row, 3), cut_windows(one_row, 3)):
        assert got.tolist() == expected.tolist()
    with pytest.raises(ValueError, match="max_attempts"):
        cut_attempt_windows(encoded, 0)
