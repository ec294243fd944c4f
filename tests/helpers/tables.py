"""Small canonical tables with known answers."""

import numpy as np
import pandas as pd


def prediction_table():
    """Six scored rows of three students on skills 5 and 7."""
    return pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3, 3],
            "skill_id": [5, 5, 5, 7, 7, 7],
            "correct": [1, 0, 1, 1, 1, 1],
            "p_correct": [0.8, 0.3, 0.6, 0.7, 0.2, 0.9],
        }
    )


def pattern_table(n_students, seed, multi_skill=False):
    """Correct exactly when the attempt repeats the previous attempt's skill
    (a deterministic rule)."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_students):
        previous = -1
        for order in range(int(rng.integers(4, 40))):
            skill = int(rng.integers(0, 4))
            rows.append((user, skill, skill, int(skill == previous), order))
            if multi_skill and rng.random() < 0.3:
                extra = (skill + 1) % 4
                rows.append((user, extra, extra, int(rng.integers(0, 2)), order))
            previous = skill
    return pd.DataFrame(rows, columns=["user_id", "item_id", "skill_id", "correct", "order"])


def fold_table(n_students=20, seed=0, with_folds=False):
    """Students s0, s1, ... with 3-11 attempts on skills 0-2 (harder skill 0),
    pyKT folds user % 5."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_students):
        for order in range(int(rng.integers(3, 12))):
            skill = int(rng.integers(0, 3))
            rows.append(
                (f"s{user}", skill, skill, int(rng.random() < 0.3 + 0.2 * skill), order, user % 5)
            )
    table = pd.DataFrame(
        rows, columns=["user_id", "item_id", "skill_id", "correct", "order", "fold"]
    )
    return table if with_folds else table.drop(columns="fold")
