"""A small Synthetic-5-like generator: 12 exercises on 3 hidden concepts, item-response answers."""

import numpy as np

from riley_gym.kt.data import make_table

CONCEPT = np.array([0, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0])
DIFFICULTY = np.linspace(-1.5, 1.5, 12)
PRACTICE = np.array(
    [0, 0, 1, 0, 1, 2, 1, 2, 3, 2, 3, 4]
)  # earlier exercises on each one's concept, counted by hand


def simulate(n_students, guess, ability_sd, gain, seed=0):
    """(n_students, 12) 0/1 answers:
    p = guess + (1 - guess) sigmoid(ability + gain * practice - difficulty)."""
    rng = np.random.default_rng(seed)
    ability = rng.normal(0, ability_sd, size=(n_students, 3))  # (n, concepts)
    logit = ability[:, CONCEPT] + gain * PRACTICE - DIFFICULTY  # (n, m)
    return (rng.random(logit.shape) < guess + (1 - guess) / (1 + np.exp(-logit))).astype(np.int64)


def matrix_table(answers, first_id=0):
    """The canonical table of a response matrix: student i answers exercise j at order j
    (skills 100+, items 500+)."""
    n, m = answers.shape
    return make_table(
        np.repeat(np.arange(n) + first_id, m),
        np.tile(np.arange(m) + 100, n),
        answers.ravel(),
        order=np.tile(np.arange(m), n),
        item_ids=np.tile(np.arange(m) + 500, n),
    )
