"""Every knowledge tracer in kt.models.registry.MODELS passes one contract (kt.models.protocol).

The contract (DESIGN.md, kt/models): predict returns the table in the same row order
with p(correct) in (0, 1); the prediction for a row depends only on the student's rows
with strictly smaller order, so a row's own answer, the answers of the other rows of
the same (multi-skill) attempt, and any later row never change it; knowledge_state
has one entry per skill and agrees with predict on a next attempt; save/load gives
identical predictions; unknown skills are handled and counted, not crashed on.

Models are fitted once per module on a small simulated table with string user ids,
gaps in ``order`` and some two-skill attempts; their configs are shrunk by field name
(no branching on model names) so the whole file stays fast.
"""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from riley_gym.kt.data import make_table, validate_table
from riley_gym.kt.data.attempts import canonical_order, prior_counts
from riley_gym.kt.data.table import PREDICTION_COLUMN
from riley_gym.kt.models.protocol import KnowledgeTracer

models_module = pytest.importorskip(
    "riley_gym.kt.models.registry",
    reason="kt/models/registry.py (the model registry) not written yet",
)
MODEL_NAMES = list(models_module.MODELS)

# Small settings applied to any config field of these names (nested configs too).
SMALL_SETTINGS = {
    "hidden_size": 16,
    "embedding_size": 16,
    "max_epochs": 2,
    "batch_size": 64,
    "eval_batch_size": 8,
    "max_length": 7,  # shorter than the sequences: predictions must carry across windows
}
N_SKILLS = 5
TOLERANCE = 1e-6


def _shrink(config):
    changes = {}
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes[item.name] = _shrink(value)
        elif item.name in SMALL_SETTINGS:
            changes[item.name] = SMALL_SETTINGS[item.name]
    return dataclasses.replace(config, **changes)


def _model_class(name):
    module_name = f"kt.{name}"
    try:
        return models_module.MODELS[name]
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        pytest.skip(f"{module_name} not written yet (registered in kt.models.registry)")


def simulated_table(seed=0, n_students=36):
    """Students whose p(correct) grows with practice; every 4th has a two-skill attempt."""
    rng = np.random.default_rng(seed)
    users, skills, correct, order = [], [], [], []
    difficulty = rng.normal(0.0, 1.0, N_SKILLS)
    for student in range(n_students):
        ability = rng.normal(0.0, 1.0)
        practice = np.zeros(N_SKILLS)
        n_attempts = int(rng.integers(9, 16))
        for attempt in range(n_attempts):
            attempt_skills = [int(rng.integers(N_SKILLS))]
            if student % 4 == 0 and attempt == n_attempts // 2:
                attempt_skills.append((attempt_skills[0] + 1) % N_SKILLS)
            for skill in attempt_skills:
                logit = ability - difficulty[skill] + 0.5 * practice[skill]
                users.append(f"s{student:02d}")
                skills.append(skill)
                correct.append(int(rng.random() < 1.0 / (1.0 + np.exp(-logit))))
                order.append(10 * attempt + 3)  # gaps: models must not assume 0, 1, 2, ...
            for skill in attempt_skills:
                practice[skill] += 1
    return make_table(users, skills, correct, order=order)


@pytest.fixture(scope="module")
def train_table():
    return simulated_table(seed=0)


@pytest.fixture(scope="module")
def test_table():
    return simulated_table(seed=1, n_students=16)


@pytest.fixture(scope="module", params=MODEL_NAMES)
def fitted(request, train_table):
    cls = _model_class(request.param)
    config = _shrink(cls().config)
    model = cls(config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        returned = model.fit(train_table.copy())
    assert returned is model
    return model


def _predict(model, table):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.predict(table)[PREDICTION_COLUMN].to_numpy()


def _one_attempt_per_student(table, seed):
    """Per student, the order of one randomly chosen attempt."""
    rng = np.random.default_rng(seed)
    return {user: rng.choice(np.unique(rows["order"])) for user, rows in table.groupby("user_id")}


def test_satisfies_protocol_and_predict_shape(fitted, test_table):
    assert isinstance(fitted, KnowledgeTracer)
    assert dataclasses.is_dataclass(fitted.config)
    before = test_table.copy()
    result = fitted.predict(test_table)
    pd.testing.assert_frame_equal(test_table, before)  # caller's table untouched
    pd.testing.assert_frame_equal(result.drop(columns=PREDICTION_COLUMN), test_table)
    p = result[PREDICTION_COLUMN].to_numpy()
    assert p.dtype.kind == "f" and np.all((p > 0.0) & (p < 1.0))


def check_own_attempt_unseen(model, table):
    """Flipping the answers of one attempt per student changes no prediction up to it."""
    chosen = _one_attempt_per_student(table, seed=2)
    cut = table["user_id"].map(chosen).to_numpy()
    flipped_rows = table["order"].to_numpy() == cut
    flipped = table.copy()
    flipped.loc[flipped_rows, "correct"] = 1 - flipped.loc[flipped_rows, "correct"]
    visible = table["order"].to_numpy() <= cut  # rows up to and including the attempt
    np.testing.assert_allclose(
        _predict(model, flipped)[visible], _predict(model, table)[visible], atol=TOLERANCE
    )


def check_later_rows_unseen(model, table):
    """Cutting each student's sequence after one attempt changes no kept prediction."""
    chosen = _one_attempt_per_student(table, seed=3)
    keep = table["order"].to_numpy() <= table["user_id"].map(chosen).to_numpy()
    truncated = table[keep].reset_index(drop=True)
    np.testing.assert_allclose(
        _predict(model, truncated), _predict(model, table)[keep], atol=TOLERANCE
    )


def check_twin_unseen(model, table):
    """A row duplicated into a two-skill attempt never sees its twin's answer."""
    chosen = _one_attempt_per_student(table, seed=4)
    at_chosen = table["order"].to_numpy() == table["user_id"].map(chosen).to_numpy()
    originals = table[at_chosen].drop_duplicates("user_id")
    twins = originals.assign(
        skill_id=(originals["skill_id"] + 2) % N_SKILLS, correct=1 - originals["correct"]
    )
    twins = twins.assign(item_id=twins["skill_id"])
    doubled = pd.concat([table, twins], ignore_index=True)
    twin_rows = np.arange(len(table), len(doubled))
    base = _predict(model, doubled)
    flipped = doubled.copy()
    flipped.loc[twin_rows, "correct"] = 1 - flipped.loc[twin_rows, "correct"]
    # the originals keep their prediction whatever their twin answered, and vice versa
    np.testing.assert_allclose(
        _predict(model, flipped)[originals.index], base[originals.index], atol=TOLERANCE
    )
    flipped = doubled.copy()
    flipped.loc[originals.index, "correct"] = 1 - flipped.loc[originals.index, "correct"]
    np.testing.assert_allclose(_predict(model, flipped)[twin_rows], base[twin_rows], atol=TOLERANCE)
    # and equals the prediction without the twin at all
    np.testing.assert_allclose(
        base[originals.index], _predict(model, table)[originals.index], atol=TOLERANCE
    )


def test_own_and_same_attempt_answers_never_used(fitted, test_table):
    check_own_attempt_unseen(fitted, test_table)


def test_later_rows_never_used(fitted, test_table):
    check_later_rows_unseen(fitted, test_table)


def test_duplicated_row_in_two_skill_attempt_does_not_see_its_twin(fitted, test_table):
    check_twin_unseen(fitted, test_table)


class CountingTracer:
    """p = (1 + earlier successes) / (2 + earlier attempts) of the student, with a leak.

    ``leak=None`` counts only strictly earlier attempts (``kt.data.attempts.prior_counts``);
    "own-answer" adds the row's own answer; "same-attempt" counts every earlier row in
    sequence, so the second row of a multi-skill attempt sees the first (the leak pyKT
    users found); "future" uses the student's whole sequence.
    """

    def __init__(self, leak=None):
        self.leak = leak

    def predict(self, table):
        successes, failures = prior_counts(table, by="user_id")
        correct = table["correct"].to_numpy().astype(float)
        if self.leak == "own-answer":
            successes = successes + correct
        elif self.leak == "same-attempt":
            sorted_rows = canonical_order(table)
            users = table["user_id"].to_numpy()[sorted_rows]
            running = pd.Series(correct[sorted_rows]).groupby(users).cumsum().to_numpy()
            seen = pd.Series(users).groupby(users).cumcount().to_numpy()
            successes, failures = np.empty(len(table)), np.empty(len(table))
            successes[sorted_rows] = running - correct[sorted_rows]
            failures[sorted_rows] = seen - successes[sorted_rows]
        elif self.leak == "future":
            totals = table.groupby("user_id")["correct"].transform("sum").to_numpy()
            sizes = table.groupby("user_id")["correct"].transform("size").to_numpy()
            successes, failures = totals, sizes - totals
        result = table.copy()
        result[PREDICTION_COLUMN] = (1.0 + successes) / (2.0 + successes + failures)
        return result


@pytest.mark.parametrize(
    "leak, check",
    [
        ("own-answer", check_own_attempt_unseen),
        ("same-attempt", check_twin_unseen),
        ("future", check_later_rows_unseen),
    ],
)
def test_checks_catch_a_leaky_tracer(test_table, leak, check):
    check(CountingTracer(leak=None), test_table)  # the leak-free control passes
    with pytest.raises(AssertionError):
        check(CountingTracer(leak=leak), test_table)


def test_unsorted_input_is_predicted_as_its_canonical_sort(fitted, test_table):
    # Shuffled rows must give the predictions of the same rows sorted canonically (the
    # sort is stable, so rows within a multi-skill attempt keep their shuffled order).
    shuffled = test_table.iloc[np.random.default_rng(5).permutation(len(test_table))]
    shuffled = shuffled.reset_index(drop=True)
    permutation = canonical_order(shuffled)
    np.testing.assert_allclose(
        _predict(fitted, shuffled)[permutation],
        _predict(fitted, shuffled.iloc[permutation]),
        atol=TOLERANCE,
    )


def test_knowledge_state_matches_predict_on_a_next_attempt(fitted, train_table, test_table):
    skill_ids = np.asarray(fitted.skill_ids)
    assert sorted(skill_ids.tolist()) == sorted(train_table["skill_id"].unique().tolist())
    empty = fitted.knowledge_state(test_table.iloc[:0])
    assert empty.shape == (len(skill_ids),) and np.all((empty > 0) & (empty < 1))
    sizes = test_table.groupby("user_id")["order"].transform("size")
    single = test_table.groupby("user_id")["order"].transform("nunique") == sizes
    user = test_table.loc[single, "user_id"].iloc[0]
    history = test_table[test_table["user_id"] == user].reset_index(drop=True)
    state = fitted.knowledge_state(history)
    assert state.shape == (len(skill_ids),)
    # one next attempt carrying every skill: each row sees exactly the history
    probe = make_table(
        [user] * len(skill_ids),
        skill_ids,
        np.zeros(len(skill_ids), dtype=int),
        order=np.full(len(skill_ids), history["order"].max() + 1),
    )
    with_probe = pd.concat([history, probe], ignore_index=True)
    np.testing.assert_allclose(_predict(fitted, with_probe)[len(history) :], state, atol=1e-5)


def test_save_load_round_trip(fitted, test_table, tmp_path):
    fitted.save(tmp_path / "model")
    loaded = type(fitted).load(tmp_path / "model")
    assert loaded.config == fitted.config
    np.testing.assert_array_equal(np.asarray(loaded.skill_ids), np.asarray(fitted.skill_ids))
    np.testing.assert_allclose(
        _predict(loaded, test_table), _predict(fitted, test_table), atol=1e-7
    )
    assert not any(path.suffix in (".pkl", ".pickle") for path in (tmp_path / "model").iterdir())


def test_unknown_skill_is_handled_and_counted(fitted, test_table):
    unknown_skill = int(test_table["skill_id"].max()) + 100
    table = test_table.copy()
    table.loc[[0, 3], ["skill_id", "item_id"]] = unknown_skill
    validate_table(table)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = fitted.predict(table)[PREDICTION_COLUMN].to_numpy()
    assert np.all((p > 0.0) & (p < 1.0))
    counters = {
        name: getattr(fitted, name)
        for name in dir(fitted)
        if "unknown" in name and isinstance(getattr(fitted, name, None), (int, np.integer))
    }
    assert caught or any(value > 0 for value in counters.values()), (
        "unknown skills were handled silently: no warning and no counter attribute "
        f"(found counters {counters})"
    )
