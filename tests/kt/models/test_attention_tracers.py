"""kt.models.sakt, akt, simplekt: per-attempt masks, causality, learning a pattern the marginal
model cannot, knowledge_state, save/load, exact resume, question-level inputs, the CLI."""

import itertools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from riley_gym.kt.data.metrics import binary_metrics
from riley_gym.kt.models.attention_tracer import attempt_layout
from riley_gym.kt.models.marginal import Marginal
from riley_gym.kt.models.registry import MODELS
from riley_gym.kt.models.training import TrainingConfig
from tests.helpers.scripts import run_script, write_tiny_log
from tests.helpers.tables import pattern_table

NAMES = ["sakt", "akt", "simplekt"]


def tiny_config(name, **changes):
    """A 32-wide model that learns pattern_table in a few seconds; ``changes`` replace fields."""
    settings = dict(
        embedding_size=32, n_heads=2, n_blocks=1, d_ff=32, hidden_size=32, dropout=0.0,
        batch_size=16, max_length=25, training=TrainingConfig(max_epochs=30, learning_rate=0.01),
    )  # fmt: skip
    settings.update(changes)
    return MODELS[name].config_class(**settings)


@pytest.fixture(scope="module", params=NAMES)
def fitted(request):
    return MODELS[request.param](tiny_config(request.param)).fit(pattern_table(150, seed=0))


def test_attempt_layout_counts_attempts_and_hides_the_own_attempt():
    # Rows: attempt 0 (rows 0, 1), attempt 1 (row 2), attempt 2 (rows 3, 4).
    context = torch.tensor([[-1, -1, 1, 2, 2]])
    positions, history, own = attempt_layout(context)
    assert positions.tolist() == [[0, 0, 1, 2, 2]]
    assert history[0].int().tolist() == [
        [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 0, 0],
    ]  # fmt: skip
    assert (own[0] == (history[0] | torch.eye(5, dtype=torch.bool))).all()


def test_each_model_learns_a_pattern_the_marginal_model_cannot(fitted):
    test = pattern_table(60, seed=1)
    later = test["order"].to_numpy() > 0  # the first attempt is unpredictable by construction
    answers = test["correct"].to_numpy()
    predicted = fitted.predict(test)["p_correct"].to_numpy()
    accuracy = ((predicted > 0.5) == answers.astype(bool))[later].mean()
    marginal = Marginal().fit(pattern_table(150, seed=0)).predict(test)["p_correct"].to_numpy()
    assert accuracy >= 0.95, accuracy
    assert binary_metrics(answers[later], predicted[later])["auc"] > 0.97
    assert binary_metrics(answers[later], marginal[later])["auc"] < 0.6
    assert fitted.inputs == "skills only"  # pattern_table has one item per skill


@pytest.mark.parametrize("name", NAMES)
def test_future_attempts_and_the_own_attempt_never_move_a_prediction(name):
    # An untrained network with dropout: any leak through the masks would show.
    table = pattern_table(12, seed=3, multi_skill=True)
    model = MODELS[name](tiny_config(name, dropout=0.3, training=TrainingConfig(max_epochs=1)))
    model.fit(table)
    before = model.predict(table)["p_correct"].to_numpy()
    key = table["user_id"].astype(str) + "@" + table["order"].astype(str)
    sizes = table.groupby(key)["skill_id"].transform("size").to_numpy()
    first = int(np.flatnonzero(sizes > 1)[0])
    user, order = table["user_id"].iloc[first], table["order"].iloc[first]
    same = ((table["user_id"] == user) & (table["order"] == order)).to_numpy()
    later = ((table["user_id"] == user) & (table["order"] > order)).to_numpy()
    changed = table.copy()
    changed.loc[same, "correct"] = 1 - changed.loc[same, "correct"]  # this attempt's answers
    changed.loc[later, "correct"] = 1 - changed.loc[later, "correct"]  # and the future's
    changed.loc[later, "skill_id"] = (changed.loc[later, "skill_id"] + 1) % 4
    after = model.predict(changed)["p_correct"].to_numpy()
    untouched = ~later
    np.testing.assert_allclose(after[untouched], before[untouched], rtol=0, atol=1e-6)
    assert np.abs(after[later] - before[later]).max() > 1e-4  # the changes are read later


def test_knowledge_state_is_the_prediction_for_the_next_attempt(fitted):
    table = pattern_table(5, seed=4)
    predicted = fitted.predict(table)
    student = table[table["user_id"] == 2]
    for k in (0, 3, len(student) - 1):
        state = fitted.knowledge_state(student.iloc[:k])
        assert state.shape == (4,)
        skill_index = int(np.flatnonzero(fitted.skill_ids == student["skill_id"].iloc[k])[0])
        assert state[skill_index] == pytest.approx(
            predicted.loc[student.index[k], "p_correct"], abs=1e-6
        )
    with pytest.raises(ValueError, match="one student"):
        fitted.knowledge_state(table)


def test_unknown_skills_get_the_training_mean_counted_with_a_warning(fitted):
    table = pattern_table(3, seed=5)
    table.loc[table.index[[0, 4]], "skill_id"] = 99
    with pytest.warns(UserWarning, match="2 row"):
        predicted = fitted.predict(table)
    assert fitted.n_unknown_skill_rows == 2
    assert predicted["p_correct"].iloc[[0, 4]].tolist() == [fitted.global_mean] * 2


def test_save_load_round_trip_gives_identical_predictions(fitted, tmp_path):
    fitted.save(tmp_path / "model")
    loaded = type(fitted).load(tmp_path / "model")
    table = pattern_table(10, seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(
            loaded.predict(table)["p_correct"], fitted.predict(table)["p_correct"]
        )
    assert loaded.config == fitted.config and loaded.skill_ids.tolist() == [0, 1, 2, 3]
    assert loaded.history.epochs == fitted.history.epochs
    other = [name for name in NAMES if name != fitted.model_name][0]
    with pytest.raises(ValueError, match="not a"):
        MODELS[other].load(tmp_path / "model")


class Interrupted(Exception):
    pass


def _without_times(history):
    return history.to_frame().drop(
        columns=["train_seconds", "train_cpu_seconds", "valid_seconds"]
    )


@pytest.mark.parametrize("name", NAMES)
def test_interrupted_and_resumed_fit_equals_an_uninterrupted_one(name, tmp_path):
    table, valid = pattern_table(40, seed=7), pattern_table(10, seed=8)
    training = dict(max_epochs=4, patience=4, learning_rate=0.01)
    config = lambda **more: tiny_config(  # noqa: E731
        name, dropout=0.2, training=TrainingConfig(**training, **more)
    )
    straight = MODELS[name](config()).fit(table, valid)

    path = str(tmp_path / "loop.pt")
    killed = MODELS[name](config(checkpoint_path=path))
    real_validator = killed._validator

    def interrupting(valid_table):  # the third validation is never reached: killed there
        validate, calls = real_validator(valid_table), itertools.count()

        def wrapped():
            if next(calls) == 2:
                raise Interrupted
            return validate()

        return wrapped

    killed._validator = interrupting
    with pytest.raises(Interrupted):
        killed.fit(table, valid)
    torch.manual_seed(123)  # the resumed fit must restore every RNG from the checkpoint
    resumed = MODELS[name](config(checkpoint_path=path, resume=True)).fit(table, valid)
    pd.testing.assert_frame_equal(_without_times(resumed.history), _without_times(straight.history))
    for key, value in straight.network.state_dict().items():
        torch.testing.assert_close(resumed.network.state_dict()[key], value, rtol=0, atol=0)
    test = pattern_table(8, seed=9)
    np.testing.assert_array_equal(
        resumed.predict(test)["p_correct"], straight.predict(test)["p_correct"]
    )


def _item_table(n_students, seed):
    """Two items per skill: item 2s is easy (80% correct), item 2s + 1 hard (20%)."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_students):
        for order in range(int(rng.integers(10, 30))):
            skill, hard = int(rng.integers(0, 3)), int(rng.integers(0, 2))
            correct = int(rng.random() < (0.2 if hard else 0.8))
            rows.append((user, 2 * skill + hard, skill, correct, order))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "skill_id", "correct", "order"])


@pytest.mark.parametrize("name", ["akt", "simplekt"])
def test_rasch_models_read_item_ids_where_the_log_has_more_items_than_skills(name, tmp_path):
    config = tiny_config(name, training=TrainingConfig(max_epochs=15, learning_rate=0.01))
    model = MODELS[name](config).fit(_item_table(60, seed=0))
    assert model.inputs.startswith("questions (6 item ids")
    test = _item_table(20, seed=1)
    predicted = model.predict(test)["p_correct"].to_numpy()
    hard = (test["item_id"] % 2).to_numpy() == 1
    assert predicted[hard].mean() < 0.4 < 0.6 < predicted[~hard].mean()
    unseen = test.assign(item_id=test["item_id"] + 100)  # mu = 0: between the two
    middle = model.predict(unseen)["p_correct"].to_numpy()
    assert predicted[hard].mean() < middle.mean() < predicted[~hard].mean()
    model.save(tmp_path / "model")
    np.testing.assert_array_equal(
        type(model).load(tmp_path / "model").predict(test)["p_correct"], predicted
    )
    skills_only = MODELS[name](
        tiny_config(name, questions="skills", training=TrainingConfig(max_epochs=1))
    ).fit(_item_table(10, seed=0))
    assert skills_only.inputs == "skills only"


def test_sakt_reads_skills_only_and_configs_are_checked():
    model = MODELS["sakt"](tiny_config("sakt", training=TrainingConfig(max_epochs=1)))
    assert model.fit(_item_table(10, seed=0)).inputs == "skills only"
    with pytest.raises(ValueError, match="n_heads"):
        tiny_config("akt", embedding_size=30, n_heads=4)
    with pytest.raises(ValueError, match="questions"):
        tiny_config("simplekt", questions="items")
    with pytest.raises(TypeError, match="AKTConfig"):
        MODELS["akt"](tiny_config("sakt"))
    with pytest.raises(ValueError, match="fit"):
        MODELS["simplekt"]().predict(pattern_table(1, seed=0))


@pytest.mark.parametrize("name", NAMES)
def test_train_kt_trains_and_saves_the_model_named_by_model(name, tmp_path):
    log = write_tiny_log(tmp_path / "log.csv")
    out = tmp_path / "run"
    done = run_script(
        "train_kt.py", "--data", str(log), "--model", name, "--protocol", "holdout",
        "--out", str(out), "--threads", "1", "--no-progress", "--embedding-size", "8",
        "--n-heads", "2", "--d-ff", "8", "--hidden-size", "8", "--max-epochs", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == name and summary["inputs"] == "skills only"
    assert summary["settings"]["embedding_size"] == 8 and 0.0 <= summary["test_auc"] <= 1.0
    loaded = MODELS[name].load(out / "model")
    assert loaded.config.embedding_size == 8


def test_simplekt_blocks_read_the_previous_blocks_output_as_their_keys():
    # pyKT's simpleKT (its authors' code): x = block(query=x, key=x, values=y) per block, so
    # a second block's keys are the first block's output, not the question embeddings again.
    from riley_gym.kt.models.simplekt import SimpleKTNetwork

    torch.manual_seed(0)
    config = tiny_config("simplekt", n_blocks=2)
    network = SimpleKTNetwork(4, 0, config).eval()
    skills, items = torch.tensor([[0, 1, 2, 1, 3]]), torch.zeros(1, 5, dtype=torch.long)
    correct, context = torch.tensor([[1, 0, 1, 1, 0]]), torch.arange(5)[None]
    positions, history, _ = attempt_layout(context)
    question, interaction, _ = network.embedding(skills, items, correct)
    keys = network.positions(question, positions)
    values = network.positions(interaction, positions)
    first = network.blocks[0](keys, keys, values, history)
    by_hand = network.output(network.blocks[1](first, first, values, history), question)
    logits, _ = network(skills, items, correct, context)
    torch.testing.assert_close(logits, by_hand)
    old_reading = network.output(network.blocks[1](first, keys, values, history), question)
    assert not torch.allclose(logits, old_reading)
