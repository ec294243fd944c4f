"""kt.models.dkt: the shift on a hand-built batch, learning a toy pattern, windows, leak-freedom,
save/load."""

import warnings

import numpy as np
import pytest
import torch

from riley_gym import nets
from riley_gym.kt.models.dkt import DKT, DKTConfig, DKTNetwork, next_attempt_logits
from riley_gym.kt.models.training import TrainingConfig
from tests.helpers.dkt import tiny_dkt_config
from tests.helpers.tables import pattern_table


def _identity_head(n_skills):
    head = nets.SigmoidHead(n_skills, n_skills)
    with torch.no_grad():
        head.linear.weight.copy_(torch.eye(n_skills))
        head.linear.bias.zero_()
    return head


def test_next_attempt_logits_on_a_hand_built_padded_two_student_batch():
    # With an identity head, logit[skill] = output[skill]; outputs[b, t, s] = 100 * b + 10 * t + s,
    # so a picked value names the (batch, time, skill) it was read from.
    b, t, s = torch.meshgrid(torch.arange(2), torch.arange(3), torch.arange(4), indexing="ij")
    outputs = (100 * b + 10 * t + s).float()  # (2, 3, 4)
    initial = -torch.arange(1, 9, dtype=torch.float32).reshape(2, 4)  # (2, 4): -1..-4, -5..-8
    # Student 0: three one-skill attempts. Student 1: a two-skill attempt, then padding.
    context = torch.tensor([[-1, 0, 1], [-1, -1, -1]])
    skills = torch.tensor([[2, 3, 1], [0, 3, 0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    picked = next_attempt_logits(outputs, initial, context, skills, mask, _identity_head(4))
    # Step (0,0): initial of student 0, skill 2 -> -3. Step (0,1): output at t=0, skill 3 -> 3.
    # Step (0,2): output at t=1, skill 1 -> 11.
    # Steps (1,0), (1,1): initial of student 1, skills 0, 3.
    assert picked.tolist() == [-3.0, 3.0, 11.0, -5.0, -8.0]


def test_next_attempt_logits_equals_the_full_head_gathered():
    generator = torch.Generator().manual_seed(0)
    head = nets.SigmoidHead(6, 5)
    outputs, initial = (
        torch.randn(3, 4, 6, generator=generator),
        torch.randn(3, 6, generator=generator),
    )
    context = torch.tensor([[-1, 0, 0, 2], [-1, 0, 1, 2], [-1, -1, 1, 1]])
    skills = torch.randint(0, 5, (3, 4), generator=generator)
    mask = torch.tensor([[True] * 4, [True, True, False, False], [True] * 3 + [False]])
    full = head(torch.cat([initial.unsqueeze(1), outputs], dim=1))  # (3, 5, 5): plain reference
    expected = [
        full[i, context[i, j] + 1, skills[i, j]] for i in range(3) for j in range(4) if mask[i, j]
    ]
    picked = next_attempt_logits(outputs, initial, context, skills, mask, head)
    torch.testing.assert_close(picked, torch.stack(expected))


@pytest.fixture(scope="module")
def fitted():
    return DKT(tiny_dkt_config()).fit(pattern_table(150, seed=0))


def test_tiny_dkt_learns_a_deterministic_pattern(fitted):
    test = pattern_table(60, seed=1)
    predicted = fitted.predict(test)
    later = test["order"].to_numpy() > 0  # the first attempt is unpredictable by construction
    accuracy = (
        (predicted["p_correct"].to_numpy() > 0.5) == test["correct"].to_numpy().astype(bool)
    )[later].mean()
    assert accuracy >= 0.97
    assert fitted.history.best_epoch == len(fitted.history.epochs)  # no validation: all epochs kept


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_windows_with_carried_state_give_the_uncut_predictions(cell):
    table = pattern_table(30, seed=2, multi_skill=True)
    model = DKT(
        tiny_dkt_config(
            cell=cell, max_length=7, eval_batch_size=4, training=TrainingConfig(max_epochs=2)
        )
    )
    model.fit(table)
    windowed = model.predict(table)["p_correct"].to_numpy()
    model.config = DKTConfig.from_dict({**model.config.to_dict(), "max_length": 10_000})
    uncut = model.predict(table)["p_correct"].to_numpy()
    assert np.isfinite(windowed).all() and ((windowed > 0) & (windowed < 1)).all()
    np.testing.assert_allclose(windowed, uncut, atol=1e-5)


def test_predictions_never_see_their_own_attempt(fitted):
    table = pattern_table(20, seed=3, multi_skill=True).sample(
        frac=1.0, random_state=0
    )  # any row order
    before = fitted.predict(table)["p_correct"].to_numpy()
    key = table["user_id"].astype(str) + "@" + table["order"].astype(str)
    attempt = key.iloc[
        int(np.flatnonzero(table.groupby(key)["skill_id"].transform("size").to_numpy() > 1)[0])
    ]
    flipped = table.copy()
    same = (key == attempt).to_numpy()
    flipped.loc[same, "correct"] = 1 - flipped.loc[same, "correct"]
    after = fitted.predict(flipped)["p_correct"].to_numpy()
    user, order = table.loc[same, "user_id"].iloc[0], table.loc[same, "order"].iloc[0]
    later = ((table["user_id"] == user) & (table["order"] > order)).to_numpy()
    np.testing.assert_allclose(
        after[~later], before[~later], atol=1e-7
    )  # this attempt and the rest unchanged
    assert (
        later.any() and np.abs(after[later] - before[later]).max() > 1e-4
    )  # the answers are used later


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
    assert predicted.drop(columns="p_correct").equals(table)


def test_save_load_round_trip_gives_identical_predictions(fitted, tmp_path):
    fitted.save(tmp_path / "dkt")
    loaded = DKT.load(tmp_path / "dkt")
    table = pattern_table(10, seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(
            loaded.predict(table)["p_correct"], fitted.predict(table)["p_correct"]
        )
    assert loaded.config == fitted.config and loaded.skill_ids.tolist() == [0, 1, 2, 3]
    assert loaded.history.epochs == fitted.history.epochs


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_model_trained_on_any_device_learns_and_loads_on_the_cpu_with_the_same_predictions(
    device, cell, tmp_path
):
    model = DKT(
        tiny_dkt_config(
            cell=cell, device=device, training=TrainingConfig(max_epochs=15, learning_rate=0.02)
        )
    )
    model.fit(pattern_table(150, seed=0))
    assert next(model.network.parameters()).device.type == device
    test = pattern_table(40, seed=1)
    predicted = model.predict(test)["p_correct"].to_numpy()
    later = test["order"].to_numpy() > 0
    assert ((predicted > 0.5) == test["correct"].to_numpy().astype(bool))[later].mean() >= 0.9
    model.save(tmp_path / "dkt")
    loaded = DKT.load(tmp_path / "dkt", device="cpu")
    assert next(loaded.network.parameters()).device.type == "cpu"
    np.testing.assert_allclose(
        loaded.predict(test)["p_correct"].to_numpy(), predicted, rtol=0, atol=1e-5
    )


def test_one_hot_input_and_config_validation():
    network = DKTNetwork(5, DKTConfig(input_encoding="one-hot", hidden_size=8))
    logits, _ = network(torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3))
    assert logits.shape == (2, 3, 5) and network.encoder.rnn.input_size == 10
    with pytest.raises(ValueError, match="cell"):
        DKTConfig(cell="transformer")
    with pytest.raises(ValueError, match="dropout"):
        DKTConfig(dropout=1.0)
    with pytest.raises(ValueError, match="unknown field"):
        DKTConfig.from_dict({"hidden": 3})
    with pytest.raises(ValueError, match="fit"):
        DKT().predict(pattern_table(1, seed=0))


def test_input_dropout_hides_whole_one_hot_steps_in_training_only():
    torch.manual_seed(0)
    network = DKTNetwork(6, DKTConfig(input_encoding="one-hot", hidden_size=8, input_dropout=0.5))
    skills, correct = torch.randint(0, 6, (4, 50)), torch.randint(0, 2, (4, 50)).float()
    features = network.step_inputs(skills, correct)  # (4, 50, 12) one-hot
    network.train()
    dropped = network.input_dropout(features)
    kept = dropped.sum(-1)  # (4, 50): 0 for a hidden step, 1 / (1 - 0.5) for a kept one
    assert set(kept.unique().tolist()) == {0.0, 2.0} and 0.3 < (kept == 0).float().mean() < 0.7
    torch.testing.assert_close(dropped[kept > 0], 2.0 * features[kept > 0])
    plain = DKTNetwork(6, DKTConfig(input_encoding="one-hot", hidden_size=8))
    plain.load_state_dict(network.state_dict())  # same weights, no input dropout
    network.eval()
    plain.eval()
    torch.testing.assert_close(
        network(skills, correct)[0], plain(skills, correct)[0], rtol=0, atol=0
    )
    with pytest.raises(ValueError, match="input_dropout"):
        DKTConfig(input_dropout=1.0)
