"""One step of policy improvement on a heuristic, learned on the knowledge tracer's state.

On bkt dynamics the mastery rule beats every planner on the gain model: that model learns the
one-step gain of each exercise, and a skill whose prerequisites are unlearned gains little now
but opens the gains of every skill after it, which a one-step value cannot see. The policy
improvement theorem (Howard, 1960; Bertsekas' rollout algorithms) gives a value that sees it:
for a base policy ``pi`` (e.g. the mastery rule), ``Q_pi(s, e)`` is the expected post-test at the
end of the session after exercise ``e`` now and ``pi`` from then on, and acting greedily on it is
at least as good as ``pi`` itself, in every state.

A tutor cannot roll the student out; the simulator can. As the gain model does for the one-step
gain, ``collect_rollout_data`` measures ``Q_pi`` on simulated sessions (from the hidden state,
for every exercise) and networks (``GainModel``) regress it on the tracer's features, so at
tutoring time the policy (``RolloutRecommender``) reads the belief alone. What keeps the
regression on what differs between exercises, and the policy where the values are sure:

- the rollouts of one state share their random draws (``SharedDraws``: common random numbers),
  so the luck of the answers mostly cancels between exercises;
- the targets are centred per state (minus their mean over exercises): the greedy choice is the
  same, and the networks do not spend their fit on the value of the state itself;
- several networks from different seeds, read by their mean (``RolloutEnsemble``): on Riley's
  curriculum (bkt, seed 1, a scratch measurement) five fits on the same data made policies
  0.835-0.861 in post-test;
- on-policy rounds (DAgger, as for the gain model): the improved policy's own states join the
  data;
- a ``margin``: the policy keeps the base's choice unless another exercise is valued that much
  higher (the base policy's session runs beside it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from riley_gym import nets
from riley_gym.kt.tutoring.gain_model import (
    FEATURES,
    GainEstimate,
    GainModel,
    GainModelConfig,
    belief_features,
    exploring_choice,
)
from riley_gym.kt.tutoring.recommend import (
    Belief,
    GreedyRecommender,
    Recommender,
    Session,
    _LookaheadSession,
)
from riley_gym.kt.tutoring.simulation import SimulatedClass, take_state

__all__ = [
    "RolloutEnsemble",
    "RolloutModelConfig",
    "RolloutRecommender",
    "SharedDraws",
    "collect_rollout_data",
    "rollout_values",
    "train_rollout_model",
]


@dataclass(frozen=True)
class RolloutModelConfig(nets.Settings):
    """Data and training of the rollout-value networks (``GainModel`` networks on rollout
    targets)."""

    students: int = field(
        default=500, metadata={"help": "simulated students per behaviour policy and per round"}
    )
    exploration: float = field(
        default=0.3, metadata={"help": "chance that a behaviour action is a random exercise"}
    )
    rollouts: int = field(
        default=2, metadata={"help": "rollouts per state and exercise (their mean is the target)"}
    )
    state_fraction: float = field(
        default=0.5,
        metadata={"help": "fraction of the visited states measured by rollouts (a random subset)"},
    )
    members: int = field(
        default=5, metadata={"help": "networks fitted from different seeds; their mean is read"}
    )
    disagreement_penalty: float = field(
        default=0.0,
        metadata={"help": "value read = members' mean minus this times their standard deviation"},
    )
    margin: float = field(
        default=0.0,
        metadata={
            "help": "the rounds' policy keeps the base's choice unless another exercise "
            "is valued this much higher (0: greedy on the values, ties to the base)"
        },
    )
    rounds: int = field(
        default=2,
        metadata={"help": "on-policy rounds: add the states the policy on the values visits"},
    )
    hidden_sizes: tuple[int, ...] = field(default=(128, 128), metadata={"help": "MLP widths"})
    epochs: int = field(default=8, metadata={"help": "passes over the measured states"})
    seed: int = field(default=0, metadata={"help": "seed of the sessions, rollouts and networks"})
    features: str = field(
        default="predictions",
        metadata={"help": "what the networks read of the belief (see GainModelConfig.features)"},
    )

    def __post_init__(self) -> None:
        self.check_at_least(["students", "rollouts", "members", "epochs"], 1)
        self.check_at_least(["seed", "rounds"], 0)
        self.check_interval(["disagreement_penalty", "margin"], 0.0, float("inf"))
        self.check_interval(["exploration"], 0.0, 1.0)
        self.check_interval(["state_fraction"], 0.0, 1.0, low_open=True)
        self.check_choice("features", FEATURES)

    def network_config(self, member: int = 0) -> GainModelConfig:
        """The settings of one member's network (its own seed)."""
        return GainModelConfig(
            students=self.students, exploration=self.exploration,
            hidden_sizes=self.hidden_sizes, epochs=self.epochs, seed=self.seed + 101 * member,
            features=self.features,
        )  # fmt: skip


class RolloutEnsemble:
    """Networks fitted on the same rollout targets from different seeds, read as one value:
    their mean minus ``penalty`` times their standard deviation (where the members disagree,
    the data did not pin the value down; a planner should not chase it there).

    Has the ``predict``/``config`` a ``GainEstimate`` reads.
    """

    def __init__(self, members: Sequence[GainModel], penalty: float = 0.0) -> None:
        if not members:
            raise ValueError("RolloutEnsemble needs at least one network")
        self.members, self.penalty = list(members), penalty
        self.config = self.members[0].config

    def predict(self, features: np.ndarray) -> np.ndarray:
        """(n, n_exercises) float64 values for (n, n_features) features."""
        values = np.stack([member.predict(features) for member in self.members])  # (M, n, E)
        if not self.penalty:  # the default: the spread is not needed
            return values.mean(axis=0)
        return values.mean(axis=0) - self.penalty * values.std(axis=0)

    def save(self, path: str | Path) -> Path:
        """Write every member and the penalty to one ``nets`` checkpoint (no pickle)."""
        payload = {
            "networks": [member.network.state_dict() for member in self.members],
            "scales": [member.scale for member in self.members],
        }
        first = self.members[0]
        config = {
            "configs": [member.config.to_dict() for member in self.members],
            "penalty": self.penalty,
            "n_features": first.n_features,
            "n_exercises": first.n_exercises,
        }
        return nets.save_checkpoint(path, payload, config)

    @classmethod
    def load(cls, path: str | Path) -> "RolloutEnsemble":
        """Read an ensemble written by ``save``."""
        payload, saved = nets.load_checkpoint(path)
        members = []
        for settings, state, scale in zip(saved["configs"], payload["networks"], payload["scales"]):
            member = GainModel(
                saved["n_features"], saved["n_exercises"], GainModelConfig.from_dict(settings)
            )
            member.network.load_state_dict(state)
            member.network.eval()
            member.scale = float(scale)
            members.append(member)
        return cls(members, float(saved["penalty"]))


class SharedDraws:
    """A random source whose uniforms are shared by each run of ``copies`` consecutive rows.

    ``random(n)`` draws ``n // copies`` uniforms and repeats each ``copies`` times, so that
    copies of one student (rows ``i * copies`` to ``i * copies + copies - 1``) see the same
    luck. ``StudentDynamics.step`` draws only through ``random(n)``.
    """

    def __init__(self, rng: np.random.Generator, copies: int) -> None:
        self.rng, self.copies = rng, copies

    def random(self, size: int) -> np.ndarray:
        if size % self.copies:
            raise ValueError(f"SharedDraws: {size} rows are not runs of {self.copies} copies")
        return np.repeat(self.rng.random(size // self.copies), self.copies)


def rollout_values(
    dynamics: Any,
    hidden_state: Any,
    base_session: Session,
    steps_left: int,
    rng: np.random.Generator,
    rollouts: int = 1,
) -> np.ndarray:
    """(n, n_exercises): the post-test at the end of the session after each exercise now and
    the base policy for the ``steps_left - 1`` steps after it; the mean of ``rollouts``
    rollouts per exercise, the exercises of one student's rollout sharing their draws.

    ``hidden_state`` (the simulator's, n students) and ``base_session`` (the base policy's
    session on the same students and history) are left as they are.
    """
    if steps_left < 1 or rollouts < 1:
        raise ValueError(
            f"rollout_values: steps_left and rollouts must be >= 1, got {steps_left}, {rollouts}"
        )
    n, n_exercises = hidden_state.n_students, dynamics.n_exercises
    copies = rollouts * n_exercises
    rows = np.repeat(np.arange(n), copies)  # (n * K * E,) student, then rollout, then exercise
    state = take_state(hidden_state, rows)
    session = base_session.fork(rows, rng)
    draws = SharedDraws(rng, n_exercises)
    exercises = np.tile(np.arange(n_exercises), n * rollouts)  # (n * K * E,) every one first
    for step in range(steps_left):
        if step:
            exercises = session.choose()
        correct = dynamics.step(state, exercises, draws)
        session.observe(exercises, correct)
    return dynamics.post_test(state).reshape(n, rollouts, n_exercises).mean(axis=1)


def collect_rollout_data(
    dynamics: Any,
    belief: Belief,
    behaviours: Sequence[Recommender],
    base: Recommender,
    session_length: int,
    config: RolloutModelConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """(features, centred rollout values) of states of simulated sessions under each behaviour.

    Every behaviour tutors ``config.students`` students (each action replaced by a random
    exercise with probability ``config.exploration``); the base policy follows the same history
    in its own session. At each step a random ``config.state_fraction`` of the students is
    measured: ``rollout_values`` from there, minus its mean over exercises.

    Returns:
        ``(states, n_features)`` float32 ``belief_features`` and ``(states, n_exercises)``
        float64 targets.
    """
    rows, targets = [], []
    students, seed = config.students, config.seed
    for number, behaviour in enumerate(behaviours):
        simulated = SimulatedClass(dynamics, students, seed=10_000 * (seed + 1) + number + 500)
        rng = np.random.default_rng([seed, number, 5])
        rollout_rng = np.random.default_rng([seed, number, 6])
        session = behaviour.start(
            students, np.random.default_rng([seed, number, 7]), simulator=simulated
        )
        base_session = base.start(students, np.random.default_rng([seed, number, 8]))
        state = belief.init(students)
        for step in range(session_length):
            measured = np.flatnonzero(rng.random(students) < config.state_fraction)
            if measured.size:
                features = belief_features(belief, state, step, session_length, config.features)
                values = rollout_values(
                    dynamics, take_state(simulated.state, measured),
                    base_session.fork(measured, rollout_rng), session_length - step,
                    rollout_rng, config.rollouts,
                )  # fmt: skip
                rows.append(features[measured])
                targets.append(values - values.mean(axis=1, keepdims=True))
            exercises = exploring_choice(session, rng, config.exploration)
            correct = simulated.step(exercises)
            session.observe(exercises, correct)
            base_session.observe(exercises, correct)
            state = belief.update(state, exercises, correct)
    return np.concatenate(rows), np.concatenate(targets)


def train_rollout_model(
    dynamics: Any,
    belief: Belief,
    behaviours: Sequence[Recommender],
    base: Recommender,
    session_length: int,
    config: RolloutModelConfig | None = None,
) -> RolloutEnsemble:
    """Measure the base policy's rollout values on ``behaviours``' states and fit
    ``config.members`` networks (read the result with ``GainEstimate``; greedy on it is the
    improved policy, ``RolloutRecommender``).

    Each of ``config.rounds`` rounds then tutors ``config.students`` more students with that
    policy on the current networks (same exploration), measures the base policy's rollout
    values on the states it visits and refits on everything (DAgger, as for the gain model:
    the improved policy goes where the behaviours rarely do).
    """
    config = config if config is not None else RolloutModelConfig()

    def fit(features: np.ndarray, targets: np.ndarray) -> RolloutEnsemble:
        members = [
            GainModel(features.shape[1], targets.shape[1], config.network_config(member))
            for member in range(config.members)
        ]
        fitted = [member.fit(features, targets) for member in members]
        return RolloutEnsemble(fitted, config.disagreement_penalty)

    features, targets = collect_rollout_data(
        dynamics, belief, behaviours, base, session_length, config
    )
    ensemble = fit(features, targets)
    for round_number in range(1, config.rounds + 1):
        policy = RolloutRecommender(
            belief, base.exercise_skill, GainEstimate(ensemble, belief, session_length), base,
            config.margin,
        )  # fmt: skip
        # Seeds apart from the behaviours' so that the round sees other students.
        round_config = replace(config, seed=config.seed + 7919 * round_number)
        more_features, more_targets = collect_rollout_data(
            dynamics, belief, [policy], base, session_length, round_config
        )
        features = np.concatenate([features, more_features])
        targets = np.concatenate([targets, more_targets])
        ensemble = fit(features, targets)
    return ensemble


class _RolloutSession(_LookaheadSession):
    def __init__(self, recommender, n_students, rng) -> None:
        super().__init__(recommender, n_students, rng)
        self.base_session = recommender.base.start(n_students, rng)  # the base, on the same answers

    def _observe(self, exercises: np.ndarray, correct: np.ndarray) -> None:
        super()._observe(exercises, correct)
        self.base_session.observe(exercises, correct)

    def fork(self, rows: np.ndarray, rng: np.random.Generator) -> Session:
        forked = super().fork(rows, rng)
        forked.base_session = self.base_session.fork(rows, rng)
        return forked

    def _choose(self) -> np.ndarray:
        best = super()._choose()  # sets self.values
        self.base_choice = self.base_session.choose()
        rows = np.arange(self.n_students)
        advantage = self.values[rows, best] - self.values[rows, self.base_choice]
        self.deviates = advantage > self.recommender.margin
        return np.where(self.deviates, best, self.base_choice)

    def _explain(self, student: int, exercise: int) -> str:
        recommender = self.recommender
        value = 100 * self.values[student, exercise]
        if not self.deviates[student]:
            return (
                f"{recommender.exercise_label(exercise)}: {recommender.base.name}'s choice; no "
                f"exercise is expected to beat it by more than {100 * recommender.margin:.2f} "
                "points of final post-test (rollout values learned on the knowledge tracer's "
                "state)"
            )
        return (
            f"{recommender.exercise_label(exercise)}: doing it now and then following "
            f"{recommender.base.name} is expected to end the session {value:+.2f} points of "
            "post-test above the mean over exercises, the most (rollout values learned on the "
            "knowledge tracer's state)"
        )


class RolloutRecommender(GreedyRecommender):
    """Greedy on learned rollout values of a base policy: one step of policy improvement.

    It keeps the base policy's choice unless the learned values put another exercise more than
    ``margin`` (post-test, as a fraction) above it: a change of policy only where the values say
    it is worth their error; 0 is greedy on the values, ties going to the base.

    Args:
        belief: the knowledge tracer the values are read from.
        exercise_skill: (n_exercises,) skill of each exercise.
        values: the rollout-value estimate (``GainEstimate`` over a ``train_rollout_model``
            ensemble).
        base: the base policy the values are of.
        margin: >= 0.
    """

    name = "rollout"
    session_class = _RolloutSession

    def __init__(
        self,
        belief: Belief,
        exercise_skill,
        values: Any,
        base: Recommender,
        margin: float = 0.0,
        **names,
    ) -> None:
        super().__init__(belief, exercise_skill, gains=values, **names)
        if values is None:
            raise ValueError("RolloutRecommender needs the rollout values (train_rollout_model)")
        if not margin >= 0:
            raise ValueError(f"RolloutRecommender: margin must be >= 0, got {margin}")
        if base.n_exercises != self.n_exercises:
            raise ValueError(
                f"RolloutRecommender: the base policy has {base.n_exercises} exercises, "
                f"the belief {self.n_exercises}"
            )
        self.base, self.margin = base, margin
