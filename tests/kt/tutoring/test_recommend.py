"""Recommenders on tiny curricula where the right answer is known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riley_gym.envs.curriculum import Curriculum
from riley_gym.envs.student_dynamics import BKTDynamics, BKTParams
from riley_gym.kt.tutoring.recommend import (
    BKTBelief,
    BlockedRecommender,
    ExpectimaxRecommender,
    GreedyRecommender,
    InterleavedRecommender,
    MasteryRecommender,
    OracleRecommender,
    RandomRecommender,
    ZPDRecommender,
    expectimax_values,
)
from riley_gym.kt.tutoring.simulation import SimulatedClass

# Two skills A (exercises 0, 1) and B (exercise 2); B needs A.
TWO_SKILLS = [0, 0, 1]


def tiny_curriculum(prerequisite: bool = True) -> Curriculum:
    return Curriculum.from_dict(
        {
            "name": "tiny",
            "skills": [
                {"name": "A"},
                {"name": "B", "prerequisites": ["A"] if prerequisite else []},
            ],
            "exercises": [
                {"name": "A easy", "skill": "A", "difficulty": -1.0, "guess": 0.2, "slip": 0.1},
                {"name": "A hard", "skill": "A", "difficulty": 1.0, "guess": 0.2, "slip": 0.1},
                {"name": "B", "skill": "B", "difficulty": 0.0, "guess": 0.2, "slip": 0.1},
            ],
        }
    )


def test_bkt_belief_update_matches_a_forward_step_done_by_hand():
    belief = BKTBelief(
        TWO_SKILLS,
        prior=[0.4, 0.3],
        learn=[0.2, 0.1],
        guess=[0.25, 0.25, 0.2],
        slip=[0.1, 0.1, 0.05],
    )
    state = belief.init(2)
    after = belief.update(state, np.array([0, 2]), np.array([1, 0]))
    # Student 0, right on A: posterior = 0.4*0.9 / (0.4*0.9 + 0.6*0.25) = 0.36/0.51;
    # then + (1 - post) * 0.2.
    post = 0.36 / 0.51
    assert after[0, 0] == pytest.approx(post + (1 - post) * 0.2)
    assert after[0, 1] == pytest.approx(0.3)
    # Student 1, wrong on B: posterior = 0.3*0.05 / (0.3*0.05 + 0.7*0.8) = 0.015/0.575;
    # then learn 0.1.
    post = 0.015 / 0.575
    assert after[1, 1] == pytest.approx(post + (1 - post) * 0.1)
    assert np.array_equal(state, belief.init(2))  # the old state is not changed
    p = belief.p_correct(state)
    assert p[0, 2] == pytest.approx(0.3 * 0.95 + 0.7 * 0.2)


def test_random_is_uniform_and_seeded():
    recommender = RandomRecommender(TWO_SKILLS)
    first = recommender.start(3000, np.random.default_rng(5)).choose()
    again = recommender.start(3000, np.random.default_rng(5)).choose()
    assert np.array_equal(first, again)
    frequencies = np.bincount(first, minlength=3) / first.size
    assert np.all(np.abs(frequencies - 1 / 3) < 0.03)  # 3000 draws: sd ~0.009


def run_schedule(recommender, steps: int) -> list[int]:
    session = recommender.start(2, np.random.default_rng(0))
    chosen = []
    for _ in range(steps):
        exercises = session.choose()
        assert exercises[0] == exercises[1]  # the same fixed schedule for everyone
        chosen.append(int(exercises[0]))
        session.observe(exercises, np.array([1, 0]))
    return chosen


def test_blocked_runs_each_skill_in_the_given_order_easiest_first():
    recommender = BlockedRecommender(
        TWO_SKILLS, run_length=3, skill_order=[1, 0], difficulty=[1.0, -1.0, 0.0]
    )
    # B block (only exercise 2), then A block cycling A easy (1) then A hard (0), then B again.
    assert run_schedule(recommender, 8) == [2, 2, 2, 1, 0, 1, 2, 2]


def test_interleaved_alternates_skills():
    recommender = InterleavedRecommender(
        TWO_SKILLS, skill_order=[0, 1], difficulty=[-1.0, 1.0, 0.0]
    )
    assert run_schedule(recommender, 6) == [0, 2, 1, 2, 0, 2]


def test_mastery_gives_b_to_a_student_who_has_mastered_a_and_a_otherwise():
    mastered_a = BKTBelief(TWO_SKILLS, prior=[0.99, 0.05], learn=0.2, guess=0.2, slip=0.1)
    recommender = MasteryRecommender(mastered_a, TWO_SKILLS, skill_order=[0, 1])
    assert recommender.start(1, np.random.default_rng(0)).choose()[0] == 2
    novice = BKTBelief(TWO_SKILLS, prior=[0.05, 0.05], learn=0.2, guess=0.2, slip=0.1)
    session = MasteryRecommender(novice, TWO_SKILLS, skill_order=[0, 1]).start(
        1, np.random.default_rng(0)
    )
    assert session.choose()[0] in (0, 1)
    assert "below the mastery threshold" in session.explain(0)


def test_mastery_moves_on_once_the_evidence_reaches_the_threshold():
    belief = BKTBelief(TWO_SKILLS, prior=[0.3, 0.05], learn=0.3, guess=0.2, slip=0.1)
    session = MasteryRecommender(belief, TWO_SKILLS, skill_order=[0, 1]).start(
        1, np.random.default_rng(0)
    )
    skills = []
    for _ in range(8):
        exercise = session.choose()
        skills.append(int(TWO_SKILLS[exercise[0]]))
        session.observe(exercise, np.array([1]))
    # Mastery of A after k right answers (by hand: 0.3 -> 0.79 -> 0.97), so A twice, then B.
    assert skills[:3] == [0, 0, 1]


def test_zpd_picks_the_exercise_closest_to_the_target():
    # p(correct): mastery 0.5 on A -> 0.5*0.9+0.5*0.2 = 0.55 (ex 0), 0.5*0.6+0.5*0.4 = 0.5 (ex 1);
    # B: 0.9*0.8 + 0.1*0.2 = 0.74.
    belief = BKTBelief(
        TWO_SKILLS, prior=[0.5, 0.9], learn=0.1, guess=[0.2, 0.4, 0.2], slip=[0.1, 0.4, 0.2]
    )
    assert np.allclose(belief.p_correct(belief.init(1)), [[0.55, 0.5, 0.74]])
    assert (
        ZPDRecommender(belief, TWO_SKILLS, target=0.7)
        .start(1, np.random.default_rng(0))
        .choose()[0]
        == 2
    )
    assert (
        ZPDRecommender(belief, TWO_SKILLS, target=0.5)
        .start(1, np.random.default_rng(0))
        .choose()[0]
        == 1
    )


def test_greedy_practises_the_unmastered_skill():
    belief = BKTBelief(TWO_SKILLS, prior=[1.0, 0.0], learn=[0.0, 0.5], guess=0.2, slip=0.1)
    session = GreedyRecommender(belief, TWO_SKILLS).start(1, np.random.default_rng(0))
    assert session.choose()[0] == 2
    # Value of exercise 2 by hand: B learned w.p. 0.5 whatever the answer (prior 0):
    # mean p = (0.9 + 0.9 + (0.2 + 0.5*0.7)) / 3.
    assert session.values[0, 2] == pytest.approx((0.9 + 0.9 + 0.2 + 0.5 * 0.7) / 3)
    assert session.values[0, 0] == pytest.approx((0.9 + 0.9 + 0.2) / 3)


class CountingBelief:
    """A deterministic toy model: exercise 0 helps at once (+0.1 once), exercise 1 only on its
    second practice (+0.4)."""

    n_exercises = 2

    def init(self, n):
        return np.zeros((n, 2), dtype=np.int64)

    def p_correct(self, state):
        return np.stack([0.5 + 0.1 * (state[:, 0] >= 1), 0.5 + 0.4 * (state[:, 1] >= 2)], axis=1)

    def update(self, state, exercises, correct):
        state = state.copy()
        state[np.arange(len(state)), exercises] += 1
        return state

    def take(self, state, rows):
        return state[rows]

    def skill_knowledge(self, state):
        return self.p_correct(state)


def test_expectimax_looks_past_the_greedy_choice():
    belief = CountingBelief()
    state = belief.init(1)
    # Horizon 1: 0 -> mean (0.6 + 0.5)/2 = 0.55; 1 -> 0.5.
    # Horizon 2: 1,1 -> (0.5 + 0.9)/2 = 0.7; 0,then best -> 0.55.
    assert np.allclose(expectimax_values(belief, state, 1, horizon=1, beam=2), [[0.55, 0.5]])
    assert np.allclose(expectimax_values(belief, state, 1, horizon=2, beam=2), [[0.55, 0.7]])
    greedy = GreedyRecommender(belief, [0, 1]).start(1, np.random.default_rng(0))
    lookahead = ExpectimaxRecommender(belief, [0, 1], horizon=2, beam=2).start(
        1, np.random.default_rng(0)
    )
    assert greedy.choose()[0] == 0
    assert lookahead.choose()[0] == 1


def test_expectimax_beam_keeps_only_the_best_one_step_children():
    # Beam 1: only the one-step best first exercise (0) is searched deeper;
    # exercise 1 is cut at the root.
    values = expectimax_values(CountingBelief(), CountingBelief().init(1), 1, horizon=2, beam=1)
    assert values[0, 0] == pytest.approx(0.55)
    assert values[0, 1] == -np.inf


def test_oracle_reads_the_hidden_state_and_teaches_the_unmastered_skill():
    dynamics = BKTDynamics(
        tiny_curriculum(prerequisite=False),
        BKTParams(prior=(1.0, 0.0), learn=(0.0, 1.0), learn_rate_sd=0.0, prior_sd=0.0),
    )
    simulated = SimulatedClass(dynamics, 4, seed=0)
    oracle = OracleRecommender(TWO_SKILLS)
    session = oracle.start(4, np.random.default_rng(0), simulator=simulated)
    assert np.all(session.choose() == 2)
    assert "ORACLE" in session.explain(0)
    with pytest.raises(ValueError, match="simulator"):
        oracle.start(1, np.random.default_rng(0))


def test_next_exercise_for_one_student_replays_the_history():
    belief = BKTBelief(TWO_SKILLS, prior=[0.3, 0.05], learn=0.3, guess=0.2, slip=0.1)
    recommender = MasteryRecommender(belief, TWO_SKILLS, skill_order=[0, 1])
    history = pd.DataFrame(
        {
            "user_id": [7, 7],
            "item_id": [0, 1],
            "skill_id": [0, 0],
            "correct": [1, 1],
            "order": [1, 2],
        }
    )
    assert recommender.next_exercise(history.iloc[:0]) in (0, 1)
    assert recommender.next_exercise(history) == 2


def test_invalid_settings_are_rejected_with_clear_messages():
    with pytest.raises(ValueError, match="run_length"):
        BlockedRecommender(TWO_SKILLS, run_length=0)
    with pytest.raises(ValueError, match="skill_order"):
        InterleavedRecommender(TWO_SKILLS, skill_order=[0, 0])
    with pytest.raises(ValueError, match="target"):
        ZPDRecommender(BKTBelief(TWO_SKILLS, 0.1, 0.1, 0.2, 0.1), TWO_SKILLS, target=1.5)
    with pytest.raises(ValueError, match="prior"):
        BKTBelief(TWO_SKILLS, prior=[0.1, 1.5], learn=0.1, guess=0.2, slip=0.1)
    session = RandomRecommender(TWO_SKILLS).start(2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="exercises"):
        session.observe(np.array([0, 3]), np.array([1, 1]))


def test_dkt_greedy_trained_on_logs_gives_the_unmastered_skill(one_torch_thread):
    # Logs where every student knows A and learns B by practice (learn 0.3): a DKT trained on them
    # (seed 0, 200 students x 10 random steps, 10 epochs) must make greedy recommend B's exercise.
    from riley_gym.envs.simulate import simulate_logs
    from riley_gym.kt.models.dkt import DKT, DKTConfig
    from riley_gym.kt.models.training import TrainingConfig
    from riley_gym.kt.tutoring.recommend import DKTBelief

    curriculum = Curriculum.from_dict(
        {
            "name": "ab",
            "skills": [{"name": "A"}, {"name": "B"}],
            "exercises": [
                {"name": "A1", "skill": "A", "difficulty": 0.0, "guess": 0.2, "slip": 0.1},
                {"name": "B1", "skill": "B", "difficulty": 0.0, "guess": 0.2, "slip": 0.1},
            ],
        }
    )
    dynamics = BKTDynamics(
        curriculum, BKTParams(prior=(1.0, 0.0), learn=(0.0, 0.3), learn_rate_sd=0.0, prior_sd=0.0)
    )
    logs = simulate_logs(200, dynamics=dynamics, episode_length=10, seed=0)
    config = DKTConfig(
        input_encoding="one-hot",
        hidden_size=16,
        dropout=0.0,
        batch_size=64,
        seed=0,
        training=TrainingConfig(learning_rate=1e-2, max_epochs=10, seed=0),
    )
    model = DKT(config).fit(logs.assign(skill_id=logs["item_id"]))  # exercises as the DKT's items
    belief = DKTBelief(model, curriculum.exercise_skill)
    p = belief.p_correct(belief.init(1))[0]
    assert p[0] > p[1]  # it learned that A is known and B is not
    session = GreedyRecommender(belief, curriculum.exercise_skill).start(
        1, np.random.default_rng(0)
    )
    assert session.choose()[0] == 1
    assert session.values[0, 1] > session.values[0, 0]


def test_scores_need_a_choice_first():
    session = RandomRecommender(TWO_SKILLS).start(1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="choose"):
        session.scores()


def test_scores_of_the_schedules_mark_the_scheduled_exercise_and_random_ties_all():
    blocked = BlockedRecommender(TWO_SKILLS, run_length=2, skill_order=[1, 0]).start(
        2, np.random.default_rng(0)
    )
    blocked.choose()
    assert np.array_equal(blocked.scores(), [[0, 0, 1], [0, 0, 1]])  # the B block first
    interleaved = InterleavedRecommender(TWO_SKILLS, skill_order=[0, 1]).start(
        1, np.random.default_rng(0)
    )
    interleaved.choose()
    interleaved.observe(np.array([0]), np.array([1]))
    interleaved.choose()
    assert np.array_equal(interleaved.scores(), [[0, 0, 1]])  # round robin: B second
    random = RandomRecommender(TWO_SKILLS).start(3, np.random.default_rng(0))
    random.choose()
    assert np.array_equal(random.scores(), np.zeros((3, 3)))


def test_mastery_scores_rank_the_skill_the_rule_would_practise_first():
    def scores(prior, order):
        belief = BKTBelief(TWO_SKILLS, prior=prior, learn=0.2, guess=0.2, slip=0.1)
        session = MasteryRecommender(belief, TWO_SKILLS, skill_order=order).start(
            1, np.random.default_rng(0)
        )
        session.choose()
        return session.scores()[0].tolist()

    # Two skills: the preferred skill's exercises score 2, the other's 1.
    assert scores([0.05, 0.05], [0, 1]) == [2, 2, 1]  # A first in prerequisite order
    assert scores([0.05, 0.05], [1, 0]) == [1, 1, 2]  # B first in this order
    assert scores([0.99, 0.05], [0, 1]) == [1, 1, 2]  # A mastered: B is the first unmastered
    assert scores([0.99, 0.97], [0, 1]) == [1, 1, 2]  # both mastered: the least mastered, B


def test_zpd_scores_are_minus_the_distance_to_the_target():
    # p(correct) by hand as in test_zpd_picks_the_exercise_closest_to_the_target: 0.55, 0.5, 0.74.
    belief = BKTBelief(
        TWO_SKILLS, prior=[0.5, 0.9], learn=0.1, guess=[0.2, 0.4, 0.2], slip=[0.1, 0.4, 0.2]
    )
    session = ZPDRecommender(belief, TWO_SKILLS, target=0.7).start(1, np.random.default_rng(0))
    session.choose()
    assert np.allclose(session.scores(), [[-0.15, -0.2, -0.04]])


def test_lookahead_scores_are_the_expected_values_by_hand():
    belief = BKTBelief(TWO_SKILLS, prior=[1.0, 0.0], learn=[0.0, 0.5], guess=0.2, slip=0.1)
    session = GreedyRecommender(belief, TWO_SKILLS).start(1, np.random.default_rng(0))
    session.choose()
    # As in test_greedy_practises_the_unmastered_skill: exercises 0 and 1 leave the mean at
    # (0.9 + 0.9 + 0.2) / 3; exercise 2 teaches B with probability 0.5.
    by_hand = [(0.9 + 0.9 + 0.2) / 3] * 2 + [(0.9 + 0.9 + 0.2 + 0.5 * 0.7) / 3]
    assert np.allclose(session.scores(), [by_hand])
    beam = ExpectimaxRecommender(CountingBelief(), [0, 1], horizon=2, beam=1).start(
        1, np.random.default_rng(0)
    )
    beam.choose()
    # Horizon 2, beam 1 (test_expectimax_beam_keeps_only_the_best_one_step_children): 0.55, cut.
    assert beam.scores()[0, 0] == pytest.approx(0.55) and beam.scores()[0, 1] == -np.inf


def test_oracle_scores_are_its_expected_post_tests():
    dynamics = BKTDynamics(
        tiny_curriculum(prerequisite=False),
        BKTParams(prior=(1.0, 0.0), learn=(0.0, 1.0), learn_rate_sd=0.0, prior_sd=0.0),
    )
    session = OracleRecommender(TWO_SKILLS).start(
        1, np.random.default_rng(0), simulator=SimulatedClass(dynamics, 1, seed=0)
    )
    session.choose()
    # A is known (p = 1 - slip = 0.9), B unknown (0.2); practising B teaches it surely (learn 1).
    assert np.allclose(session.scores(), [[(0.9 + 0.9 + 0.2) / 3] * 2 + [0.9]])


@pytest.mark.parametrize(
    "make",
    [
        lambda belief: RandomRecommender(TWO_SKILLS),
        lambda belief: BlockedRecommender(TWO_SKILLS, run_length=2),
        lambda belief: InterleavedRecommender(TWO_SKILLS),
        lambda belief: MasteryRecommender(belief, TWO_SKILLS, skill_order=[0, 1]),
        lambda belief: ZPDRecommender(belief, TWO_SKILLS),
        lambda belief: GreedyRecommender(belief, TWO_SKILLS),
        lambda belief: ExpectimaxRecommender(belief, TWO_SKILLS, horizon=2, beam=2),
    ],
    ids=["random", "blocked", "interleaved", "mastery", "zpd", "greedy", "expectimax"],
)
def test_every_choice_is_among_the_highest_scored_exercises(make):
    belief = BKTBelief(TWO_SKILLS, prior=[0.3, 0.1], learn=0.3, guess=0.2, slip=0.1)
    session = make(belief).start(4, np.random.default_rng(1))
    answers = np.random.default_rng(2)
    for _ in range(10):
        chosen = session.choose()
        scores = session.scores()
        assert scores.shape == (4, 3)
        assert np.all(scores[np.arange(4), chosen] >= scores.max(axis=1) - 1e-12)
        session.observe(chosen, answers.random(4) < 0.6)
