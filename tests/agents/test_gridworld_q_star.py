"""DQN on the 8x8 GridWorld maze against the env's value-iteration Q* (issue 3, figure 1)."""

import numpy as np
import pytest

from agents import DQN, DQNConfig, make_vector_env

gridworld = pytest.importorskip("envs.gridworld", reason="envs.gridworld is not in this checkout")

# Seed 0, 15,000 steps: measured max |Q - Q*| = 0.013 over all reachable non-terminal states and
# actions (25 states; Q* ranges over [-1, 1]); the bound below leaves room for other CPUs' float order.
# This is one seed's budget, not every seed's: over seeds 0-5 this budget passes on 2 (the others have
# not reached the goal often enough by 15k steps); 30k steps with epsilon_end=0.2 bring max |Q - Q*|
# under 0.05 on all six, but greedy optimality still fails on three of them: Q* separates some actions
# by a single discount step (0.008), so the greedy choice there needs errors under 0.004.
STEPS, MAX_ERROR = 15_000, 0.05


@pytest.mark.slow
def test_dqn_greedy_policy_is_optimal_and_q_is_close_to_q_star_on_8x8():
    config = DQNConfig.gridworld(seed=0, train_freq=2, epsilon_decay_steps=5000, device="cpu")
    envs = make_vector_env("riley/GridWorld8x8-v0", 1)
    agent = DQN(envs, config)
    agent.learn(STEPS)
    env = envs.envs[0].unwrapped
    exact = gridworld.q_star(env, config.gamma)  # (64, 4)
    states = [s for s in env.reachable_states() if env.desc[s // env.n_cols][s % env.n_cols] not in "GT"]
    q = agent.q_values(np.eye(exact.shape[0], dtype=np.float32))  # one-hot obs of every state -> (64, 4)
    assert np.abs(q - exact)[states].max() < MAX_ERROR
    assert gridworld.greedy_policy_is_optimal(q, exact, states)
