"""A DKT small enough to train in a second."""

from riley_gym.kt.models.dkt import DKTConfig
from riley_gym.kt.models.training import TrainingConfig


def tiny_dkt_config(**changes):
    """A 24-wide DKT trained 40 epochs at a high rate; ``changes`` replace fields."""
    settings = dict(
        embedding_size=16,
        hidden_size=24,
        dropout=0.0,
        batch_size=16,
        max_length=25,
        training=TrainingConfig(max_epochs=40, learning_rate=0.02),
    )
    settings.update(changes)
    return DKTConfig(**settings)
