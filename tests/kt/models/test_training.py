"""kt.models.training: the loop fits a toy model, early-stops by validation AUC,
restores the best weights, and resumes exactly."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from riley_gym import nets
from riley_gym.kt.models.training import (
    TrainingConfig,
    TrainingHistory,
    WeightAverage,
    epoch_listener,
    train,
)


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

    history = train(
        model, _batches(), TrainingConfig(max_epochs=5, patience=2, learning_rate=0.05), validate
    )
    assert [epoch["valid_auc"] for epoch in history.epochs] == [0.60, 0.80, 0.70, 0.75]
    assert history.best_epoch == 2 and history.best_valid_auc == 0.80 and history.stopped_early
    assert torch.equal(model.network.weight, snapshots[1])
    assert not torch.equal(snapshots[1], snapshots[3])  # the weights did move after the best epoch
    assert set(history.summary()) >= {"best_epoch", "seconds_per_epoch", "train_seconds"}


def test_same_seed_same_run_and_errors_are_named():
    first = train(LinearModel(), _batches(), TrainingConfig(max_epochs=3, seed=7)).to_frame()[
        "train_loss"
    ]
    second = train(LinearModel(), _batches(), TrainingConfig(max_epochs=3, seed=7)).to_frame()[
        "train_loss"
    ]
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


class DropoutModel(LinearModel):
    """The toy model behind dropout, so a resumed run must also restore the torch RNG."""

    def __init__(self):
        torch.manual_seed(0)
        self.network = nn.Sequential(nn.Dropout(0.3), nn.Linear(2, 1))


class Interrupted(Exception):
    """Stands for the process being killed: raised before the epoch's checkpoint is written."""


def _scripted_validate(model, aucs, start=0, interrupt_at=None):
    """Validation that returns ``aucs`` epoch by epoch from ``start``,
    raising in epoch ``interrupt_at``."""
    epochs = iter(range(start + 1, len(aucs) + 1))

    def validate():
        epoch = next(epochs)
        if epoch == interrupt_at:
            raise Interrupted
        weight = model.network[1].weight
        return {
            "auc": aucs[epoch - 1],
            "weight_sum": float(weight.detach().sum()),
        }  # ties the record to the weights

    return validate


def _without_times(history):
    return history.to_frame().drop(columns=["train_seconds", "train_cpu_seconds", "valid_seconds"])


@pytest.mark.parametrize(
    "interrupt_at, ema_decay, lr_decay", [(2, 0.0, 1.0), (4, 0.0, 1.0), (4, 0.9, 0.5)]
)
def test_interrupted_and_resumed_run_is_bit_identical_to_an_uninterrupted_one(
    tmp_path, interrupt_at, ema_decay, lr_decay
):
    aucs = [
        0.6,
        0.8,
        0.7,
        0.85,
        0.82,
        0.81,
    ]  # best at epoch 4, so the kept weights are not the last ones
    settings = dict(
        max_epochs=6, patience=3, learning_rate=0.05, seed=5, ema_decay=ema_decay, lr_decay=lr_decay
    )
    straight = DropoutModel()
    straight_history = train(
        straight, _batches(), TrainingConfig(**settings), _scripted_validate(straight, aucs)
    )

    path = str(tmp_path / "loop.pt")
    killed = DropoutModel()
    with pytest.raises(Interrupted):
        train(
            killed,
            _batches(),
            TrainingConfig(**settings, checkpoint_path=path),
            _scripted_validate(killed, aucs, interrupt_at=interrupt_at),
        )
    payload, _ = nets.load_checkpoint(path)
    assert payload["epochs_done"] == interrupt_at - 1
    torch.manual_seed(
        123
    )  # the resumed process starts from other RNG states: the checkpoint must restore them
    resumed = DropoutModel()
    resumed_history = train(
        resumed,
        _batches(),
        TrainingConfig(**settings, checkpoint_path=path, resume=True),
        _scripted_validate(resumed, aucs, start=interrupt_at - 1),
    )

    for name, value in straight.network.state_dict().items():
        torch.testing.assert_close(
            resumed.network.state_dict()[name], value, rtol=0, atol=0, msg=name
        )
    pd.testing.assert_frame_equal(_without_times(resumed_history), _without_times(straight_history))
    assert (
        (resumed_history.best_epoch, resumed_history.best_valid_auc)
        == (4, 0.85)
        == (straight_history.best_epoch, straight_history.best_valid_auc)
    )
    x = _batches(1)[0][0]
    torch.testing.assert_close(resumed.network(x), straight.network(x), rtol=0, atol=0)


class StopHere(Exception):
    """What a sweep's scheduler does to a trial it stops: raise from the listener."""


def test_epoch_listener_sees_each_epoch_after_its_checkpoint_and_a_stop_there_resumes(tmp_path):
    aucs = [0.6, 0.8, 0.7, 0.85, 0.82, 0.81]
    settings = dict(max_epochs=6, patience=3, learning_rate=0.05, seed=5)
    straight = DropoutModel()
    straight_history = train(
        straight, _batches(), TrainingConfig(**settings), _scripted_validate(straight, aucs)
    )
    path = str(tmp_path / "loop.pt")
    seen = []

    def stop_after_epoch_3(record):
        payload, _ = nets.load_checkpoint(path)
        seen.append((record["epoch"], record["valid_auc"], record["best_valid_auc"]))
        assert payload["epochs_done"] == record["epoch"]  # the checkpoint came first
        if record["epoch"] == 3:
            raise StopHere

    stopped = DropoutModel()
    with epoch_listener(stop_after_epoch_3), pytest.raises(StopHere):
        train(stopped, _batches(), TrainingConfig(**settings, checkpoint_path=path),
              _scripted_validate(stopped, aucs))  # fmt: skip
    assert seen == [(1, 0.6, 0.6), (2, 0.8, 0.8), (3, 0.7, 0.8)]

    seen.clear()
    resumed = DropoutModel()
    with epoch_listener(lambda record: seen.append(record["epoch"])):
        resumed_history = train(
            resumed, _batches(), TrainingConfig(**settings, checkpoint_path=path, resume=True),
            _scripted_validate(resumed, aucs, start=3),
        )  # fmt: skip
    assert seen == [4, 5, 6]  # restored epochs are not reported again
    pd.testing.assert_frame_equal(_without_times(resumed_history), _without_times(straight_history))
    train(LinearModel(), _batches(), TrainingConfig(max_epochs=2))  # outside the block: no calls
    assert seen == [4, 5, 6]


def test_resuming_a_finished_run_trains_no_more_epochs(tmp_path):
    path = str(tmp_path / "loop.pt")
    aucs = [0.7, 0.6, 0.6]  # patience 2 runs out after epoch 3 of 5
    model = DropoutModel()
    first = train(
        model,
        _batches(),
        TrainingConfig(max_epochs=5, patience=2, checkpoint_path=path),
        _scripted_validate(model, aucs),
    )
    assert first.stopped_early and len(first.epochs) == 3
    again = DropoutModel()
    second = train(
        again,
        _batches(),
        TrainingConfig(max_epochs=5, patience=2, checkpoint_path=path, resume=True),
        _scripted_validate(again, aucs, start=3),
    )
    pd.testing.assert_frame_equal(second.to_frame(), first.to_frame())
    torch.testing.assert_close(again.network[1].weight, model.network[1].weight, rtol=0, atol=0)


def test_resume_errors_name_what_is_missing_or_different(tmp_path):
    path = str(tmp_path / "loop.pt")
    with pytest.raises(
        ValueError, match="TrainingConfig.resume must be False without a checkpoint_path"
    ):
        TrainingConfig(resume=True)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(DropoutModel(), _batches(), TrainingConfig(checkpoint_path=path, resume=True))
    train(DropoutModel(), _batches(), TrainingConfig(max_epochs=2, checkpoint_path=path))
    with pytest.raises(
        ValueError,
        match=r"max_epochs: 2 in the checkpoint, 3 now.*seed: 0 in the checkpoint, 1 now",
    ):
        train(
            DropoutModel(),
            _batches(),
            TrainingConfig(max_epochs=3, seed=1, checkpoint_path=path, resume=True),
        )
    with pytest.raises(ValueError, match="8 batches per epoch, now there are 3"):
        train(
            DropoutModel(),
            _batches(3),
            TrainingConfig(max_epochs=2, checkpoint_path=path, resume=True),
        )
    wider = DropoutModel()
    wider.network = nn.Sequential(nn.Dropout(0.3), nn.Linear(3, 1))
    with pytest.raises(ValueError, match=r"network differs in \['1.weight'\]"):
        train(wider, _batches(), TrainingConfig(max_epochs=2, checkpoint_path=path, resume=True))


def test_weight_average_is_the_running_mean_then_an_exponential_average():
    network = nn.Linear(1, 1, bias=False)
    average = WeightAverage(
        network, decay=0.75
    )  # running mean for the first 1 / (1 - 0.75) = 4 updates
    expected = None
    for step, value in enumerate([1.0, 2.0, 3.0, 6.0, 10.0, 2.0], start=1):
        with torch.no_grad():
            network.weight.fill_(value)
        average.update()
        expected = (
            value
            if step == 1
            else (
                expected + (value - expected) / step
                if step <= 4
                else 0.75 * expected + 0.25 * value
            )
        )
        assert average.average[0].item() == pytest.approx(expected)
    assert expected == pytest.approx(0.75 * (0.75 * 3.0 + 0.25 * 10.0) + 0.25 * 2.0)
    average.swap()
    assert network.weight.item() == pytest.approx(expected) and average.average[0].item() == 2.0
    with pytest.raises(ValueError, match="ema_decay"):
        TrainingConfig(ema_decay=1.0)


class RecordingModel(LinearModel):
    """Records the weights every loss call sees, i.e. the weights after each optimiser step
    but the last."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def loss(self, batch):
        self.seen.append(self.network.weight.detach().clone())
        return super().loss(batch)


def test_ema_validates_and_returns_the_averaged_weights_without_changing_the_raw_trajectory():
    settings = dict(max_epochs=2, learning_rate=0.05, seed=3)
    raw = RecordingModel()
    train(raw, _batches(), TrainingConfig(**settings))
    after_each_step = [*raw.seen[1:], raw.network.weight.detach().clone()]  # 16 updates

    averaged = RecordingModel()
    validated = []

    def validate():
        validated.append(averaged.network.weight.detach().clone())
        return {"auc": float(len(validated))}  # every epoch is better: the last one is kept

    train(
        averaged, _batches(), TrainingConfig(**settings, ema_decay=0.99), validate
    )  # 16 < 100 updates: plain mean
    for seen, raw_seen in zip(averaged.seen, raw.seen):
        torch.testing.assert_close(
            seen, raw_seen, rtol=0, atol=0
        )  # training steps go on from the raw weights
    torch.testing.assert_close(validated[0], torch.stack(after_each_step[:8]).mean(0))
    torch.testing.assert_close(averaged.network.weight, torch.stack(after_each_step).mean(0))
    assert not torch.allclose(averaged.network.weight, raw.network.weight)


@pytest.mark.parametrize(
    "lr_decay_patience, rates",
    [(1, [0.04, 0.04, 0.04, 0.02, 0.01, 0.01]), (2, [0.04, 0.04, 0.04, 0.04, 0.02, 0.02])],
)
def test_learning_rate_decays_after_epochs_without_a_better_validation_auc(
    lr_decay_patience, rates
):
    scripted = iter([0.6, 0.8, 0.7, 0.75, 0.9, 0.85])  # no gain after epochs 3 and 4
    config = TrainingConfig(
        max_epochs=6,
        patience=5,
        learning_rate=0.04,
        lr_decay=0.5,
        lr_decay_patience=lr_decay_patience,
    )
    history = train(LinearModel(), _batches(), config, lambda: {"auc": next(scripted)})
    assert history.to_frame()["learning_rate"].tolist() == pytest.approx(rates)
    with pytest.raises(ValueError, match="lr_decay"):
        TrainingConfig(lr_decay=0.0)
    with pytest.raises(ValueError, match="lr_decay_patience"):
        TrainingConfig(lr_decay_patience=0)
