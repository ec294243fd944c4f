"""What practice teaches, learned: the expected post-test gain of each exercise,
from a belief's state.

A knowledge model trained on answers (DKT) predicts answers, and a lookahead that maximises its
predicted knowledge rewards what an answer *reveals*, not what practice *teaches*
(``kt.experiments.inference_vs_learning`` measures it: on Riley's curriculum DKT's expected change
after an exercise correlates about 0.04 with the true expected gain). ``GainModel`` learns the
second quantity directly: a network (``nets.MLP``) over features of the belief the tutor keeps
(its p(correct) on every exercise and the fraction of the session done; optionally also the
belief's representation, DKT's LSTM output) regressed on the
simulator's exact expected gain of every exercise (``StudentDynamics.expected_gains``, read from
the hidden state of simulated students, in training only). At tutoring time it reads the belief
alone, so it can run on a real student. The training states come from simulated sessions under
behaviour policies (the heuristics), each action replaced by a random exercise with probability
``exploration`` so that every exercise is seen in every kind of state.

A planner on the model takes students to states the behaviour policies rarely reach, where the
model's error is largest (on the ``tree`` curriculum with irt dynamics its squared error on the
states greedy visits was twice that on the heuristics' states, and greedy fell below random).
``on_policy_rounds`` corrects that as DAgger does (Ross, Gordon and Bagnell, 2011): run the planner
on the current model, add the states it visits with their exact gains, refit on everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from riley_gym import nets
from riley_gym.kt.tutoring.recommend import Belief, Recommender
from riley_gym.kt.tutoring.simulation import SimulatedClass

__all__ = [
    "FEATURES",
    "GainModelConfig",
    "GainModel",
    "belief_features",
    "collect_gain_data",
    "exploring_choice",
    "train_gain_model",
]


# What a gain model may read of a belief (``belief_features``).
FEATURES = ("predictions", "predictions+state")


@dataclass(frozen=True)
class GainModelConfig(nets.Settings):
    """Data and training of a ``GainModel``."""

    students: int = field(
        default=1000, metadata={"help": "simulated students per behaviour policy"}
    )
    exploration: float = field(
        default=0.3, metadata={"help": "chance that a behaviour action is a random exercise"}
    )
    hidden_sizes: tuple[int, ...] = field(default=(128, 128), metadata={"help": "MLP widths"})
    epochs: int = field(default=8, metadata={"help": "passes over the collected states"})
    batch_size: int = field(default=512, metadata={"help": "states per gradient step"})
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    seed: int = field(default=0, metadata={"help": "seed of the sessions and the network"})
    on_policy_rounds: int = field(
        default=0,
        metadata={
            "help": "DAgger rounds: add the states the planner on the model visits, refit"
        },
    )
    features: str = field(
        default="predictions",
        metadata={
            "help": "what the network reads of the belief: predictions (p(correct) per "
            "exercise) or predictions+state (also the belief's representation, DKT's LSTM "
            "output)"
        },
    )

    def __post_init__(self) -> None:
        self.check_at_least(["students", "epochs", "batch_size"], 1)
        self.check_at_least(["seed", "on_policy_rounds"], 0)
        self.check_interval(["exploration"], 0.0, 1.0)
        self.check_choice("features", FEATURES)
        self.check_above(["learning_rate"], 0.0)
        widths = self.hidden_sizes
        self.check(
            "hidden_sizes", all(nets.is_integer(w) and w >= 1 for w in widths), "widths >= 1"
        )


def belief_features(
    belief: Belief,
    state: Any,
    step: int | np.ndarray,
    session_length: int,
    features: str = "predictions",
) -> np.ndarray:
    """(n, n_exercises + 1 [+ k]) float32: the belief's p(correct) per exercise, the fraction
    of the session done and, with ``features="predictions+state"``, the belief's
    ``representation(state)`` (n, k).

    Raises:
        TypeError: ``predictions+state`` with a belief that has no ``representation``.
    """
    if features not in FEATURES:
        raise ValueError(f"belief_features: features must be one of {FEATURES}, got {features!r}")
    p = belief.p_correct(state)  # (n, E)
    done = np.broadcast_to(np.asarray(step, dtype=np.float64) / session_length, (p.shape[0],))
    parts = [p, done[:, None]]
    if features == "predictions+state":
        if not hasattr(belief, "representation"):
            raise TypeError(
                f"belief_features: {type(belief).__name__} has no representation(state); "
                "use features='predictions'"
            )
        parts.append(belief.representation(state))
    return np.concatenate(parts, axis=1).astype(np.float32)


class GainModel:
    """Expected post-test gain of every exercise from belief features (see the module docstring).

    Args:
        n_features: width of ``belief_features``.
        n_exercises: exercises of the curriculum.
        config: network and training settings.
    """

    def __init__(
        self, n_features: int, n_exercises: int, config: GainModelConfig | None = None
    ) -> None:
        self.config = config if config is not None else GainModelConfig()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            self.network = nets.MLP(n_features, list(self.config.hidden_sizes), n_exercises)
        self.n_features, self.n_exercises = n_features, n_exercises
        # Gains are a few thousandths of the post-test on a long curriculum and tenths on a tiny
        # one: the network fits them divided by their spread, kept here (``fit`` sets it).
        self.scale = 1.0
        self.history: list[float] = []  # mean squared error per epoch, in units of ``scale``

    @torch.no_grad()
    def predict(self, features: np.ndarray) -> np.ndarray:
        """(n, n_exercises) float64 expected gains for (n, n_features) features."""
        self.network.eval()
        inputs = torch.from_numpy(np.asarray(features, dtype=np.float32))
        return self.network(inputs).double().numpy() * self.scale

    def save(self, path: str | Path) -> Path:
        """Write the network, the scale and the settings (a ``nets`` checkpoint, no pickle)."""
        payload = {
            "network": self.network.state_dict(),
            "scale": self.scale,
            "history": self.history,
        }
        shape = {"n_features": self.n_features, "n_exercises": self.n_exercises}
        nets.save_checkpoint(path, payload, {"config": self.config.to_dict(), **shape})
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "GainModel":
        """Read a model written by ``save``."""
        payload, saved = nets.load_checkpoint(path)
        model = cls(
            saved["n_features"], saved["n_exercises"], GainModelConfig.from_dict(saved["config"])
        )
        model.network.load_state_dict(payload["network"])
        model.scale, model.history = float(payload["scale"]), list(payload["history"])
        model.network.eval()
        return model

    def fit(self, features: np.ndarray, gains: np.ndarray) -> "GainModel":
        """Regress ``gains`` (n, n_exercises) on ``features`` (n, n_features)
        by mean squared error."""
        if features.shape[0] != gains.shape[0] or gains.shape[1] != self.n_exercises:
            raise ValueError(
                f"GainModel.fit: features {features.shape} and gains {gains.shape} do not match"
            )
        inputs = torch.from_numpy(np.asarray(features, dtype=np.float32))
        spread = float(np.std(gains))
        self.scale = spread if spread > 0 else 1.0
        targets = torch.from_numpy(np.asarray(gains / self.scale, dtype=np.float32))
        optimizer = torch.optim.Adam(self.network.parameters(), lr=self.config.learning_rate)
        order = np.random.default_rng(self.config.seed)
        self.network.train()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            for _ in range(self.config.epochs):
                total = 0.0
                permutation = torch.from_numpy(order.permutation(len(inputs)))
                for start in range(0, len(inputs), self.config.batch_size):
                    rows = permutation[start : start + self.config.batch_size]
                    loss = nn.functional.mse_loss(self.network(inputs[rows]), targets[rows])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(rows)
                self.history.append(total / len(inputs))
        self.network.eval()
        return self


def exploring_choice(session: Any, rng: np.random.Generator, exploration: float) -> np.ndarray:
    """(n,) the session's choices, each replaced by a uniformly random exercise with
    probability ``exploration`` (so that every exercise is seen in every kind of state)."""
    exercises = session.choose().copy()
    explore = rng.random(session.n_students) < exploration
    n_exercises = session.recommender.n_exercises
    exercises[explore] = rng.integers(0, n_exercises, int(explore.sum()))
    return exercises


def collect_gain_data(
    dynamics: Any,
    belief: Belief,
    behaviours: Sequence[Recommender],
    students: int,
    session_length: int,
    exploration: float,
    seed: int,
    features: str = "predictions",
) -> tuple[np.ndarray, np.ndarray]:
    """(features, exact gains) of every state of simulated sessions under each behaviour policy.

    Returns:
        ``(states, n_features)`` float32 ``belief_features`` (of kind ``features``) and
        ``(states, n_exercises)`` float64 gains.
    """
    rows, gains = [], []
    for number, behaviour in enumerate(behaviours):
        simulated = SimulatedClass(dynamics, students, seed=10_000 * (seed + 1) + number)
        rng = np.random.default_rng([seed, number, 3])
        session = behaviour.start(
            students, np.random.default_rng([seed, number, 2]), simulator=simulated
        )
        state = belief.init(students)
        for step in range(session_length):
            rows.append(belief_features(belief, state, step, session_length, features))
            gains.append(dynamics.expected_gains(simulated.state))
            exercises = exploring_choice(session, rng, exploration)
            correct = simulated.step(exercises)
            session.observe(exercises, correct)
            state = belief.update(state, exercises, correct)
    return np.concatenate(rows), np.concatenate(gains)


def train_gain_model(
    dynamics: Any,
    belief: Belief,
    behaviours: Sequence[Recommender],
    session_length: int,
    config: GainModelConfig | None = None,
    planner: Callable[["GainEstimate"], Recommender] | None = None,
) -> GainModel:
    """Collect states under ``behaviours`` (``config.students`` each) and fit a ``GainModel``.

    With ``config.on_policy_rounds`` > 0, ``planner`` (a ``GainEstimate`` -> the recommender that
    plans on it, e.g. greedy) runs on each round's model for ``config.students`` more students,
    with the same exploration; their states join the data and a fresh model is fitted on all.
    """
    config = config if config is not None else GainModelConfig()
    if config.on_policy_rounds and planner is None:
        raise ValueError("train_gain_model: on_policy_rounds > 0 needs a planner")

    def collect(policies: Sequence[Recommender], seed: int) -> tuple[np.ndarray, np.ndarray]:
        return collect_gain_data(
            dynamics,
            belief,
            policies,
            config.students,
            session_length,
            config.exploration,
            seed,
            config.features,
        )

    features, gains = collect(behaviours, config.seed)
    model = GainModel(features.shape[1], gains.shape[1], config).fit(features, gains)
    for round_number in range(1, config.on_policy_rounds + 1):
        behaviour = planner(GainEstimate(model, belief, session_length))
        # Seeds apart from the behaviour policies' so that the round sees other students.
        more_features, more_gains = collect([behaviour], config.seed + 7919 * round_number)
        features = np.concatenate([features, more_features])
        gains = np.concatenate([gains, more_gains])
        model = GainModel(features.shape[1], gains.shape[1], config).fit(features, gains)
    return model


class GainEstimate:
    """A ``GainModel`` read through a belief: ``estimate(state, step)`` -> (n, n_exercises) gains.

    The form ``kt.tutoring.recommend.gain_lookahead_values`` (greedy and expectimax) takes.
    """

    def __init__(self, model: GainModel, belief: Belief, session_length: int) -> None:
        self.model, self.belief, self.session_length = model, belief, session_length

    def __call__(self, state: Any, step: int) -> np.ndarray:
        features = belief_features(
            self.belief, state, step, self.session_length, self.model.config.features
        )
        return self.model.predict(features)
