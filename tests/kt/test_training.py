"""kt.training: the loop fits a toy model, early-stops by validation AUC and restores the best weights."""

import numpy as np
import pytest
import torch
from torch import nn

from kt.training import TrainingConfig, TrainingHistory, train


class LinearModel:
    """Logistic regression on fixed batches: the loop only sees ``network`` and ``loss``."""

    def __init__(self):
        torch.manual_seed(0)
        self.network = nn.Linear(2, 1)

    def loss(self, batch):
        x, y = batch
        return nn.functional.binary_cross_entropy_with_logits(self.network(x).squeeze(-1), y)


def _batches(n_batches=8):
    generator = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(n_batches):
        x = torch.randn(32, 2, generator=generator)
        batches.append((x, (x[:, 0] + x[:, 1] > 0).float()))
    return batches


def test_loss_falls_on_a_separable_toy_problem():
    model = LinearModel()
    history = train(model, _batches(), TrainingConfig(max_epochs=15, learning_rate=0.05))
    losses = history.to_frame()["train_loss"].to_numpy()
    assert len(losses) == 15 and losses[-1] < 0.5 * losses[0]
    assert history.best_epoch == 15 and not history.stopped_early
    assert history.seconds_per_epoch > 0 and not model.network.training


def test_early_stopping_restores_the_best_epochs_weights():
    model = LinearModel()
    scripted = iter([0.60, 0.80, 0.70, 0.75, 0.90])  # best at epoch 2, then two epochs without gain
    snapshots = []

    def validate():
        snapshots.append(model.network.weight.detach().clone())
        return {"auc": next(scripted), "log_loss": 0.5}

    history = train(model, _batches(), TrainingConfig(max_epochs=5, patience=2, learning_rate=0.05), validate)
    assert [epoch["valid_auc"] for epoch in history.epochs] == [0.60, 0.80, 0.70, 0.75]
    assert history.best_epoch == 2 and history.best_valid_auc == 0.80 and history.stopped_early
    assert torch.equal(model.network.weight, snapshots[1])
    assert not torch.equal(snapshots[1], snapshots[3])  # the weights did move after the best epoch
    assert set(history.summary()) >= {"best_epoch", "seconds_per_epoch", "train_seconds"}


def test_same_seed_same_run_and_errors_are_named():
    first = train(LinearModel(), _batches(), TrainingConfig(max_epochs=3, seed=7)).to_frame()["train_loss"]
    second = train(LinearModel(), _batches(), TrainingConfig(max_epochs=3, seed=7)).to_frame()["train_loss"]
    np.testing.assert_array_equal(first, second)
    with pytest.raises(ValueError, match="no batches"):
        train(LinearModel(), [], TrainingConfig())
    with pytest.raises(ValueError, match="'auc'"):
        train(LinearModel(), _batches(), TrainingConfig(max_epochs=1), lambda: {"acc": 1.0})
    with pytest.raises(ValueError, match="learning_rate"):
        TrainingConfig(learning_rate=0)
    with pytest.raises(ValueError, match="patience"):
        TrainingConfig(patience=0)
    assert TrainingHistory().summary()["epochs_run"] == 0
