"""DQN: the TD target by hand, config validation, the collector at episode ends,
learning Q* on a corridor, exact resume."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from agent_test_envs import GOAL, N_CELLS, Corridor, corridor_q_star
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from riley_gym.agents import (
    DQN,
    DQNConfig,
    SeededEpisodes,
    evaluate_agent,
    paired_difference,
    td_target,
)

TINY = dict(
    hidden_sizes=(32,),
    batch_size=16,
    buffer_size=2000,
    learning_starts=50,
    train_freq=1,
    gradient_steps=1,
    target_update_interval=50,
    learning_rate=3e-3,
    epsilon_decay_steps=400,
    epsilon_end=0.1,
    gamma=0.9,
    device="cpu",
    eval_epsilon=0.0,
)


def corridor_envs(n_envs=1, mode=AutoresetMode.SAME_STEP, time_limit=20):
    return SyncVectorEnv(
        [lambda: SeededEpisodes(Corridor(time_limit)) for _ in range(n_envs)], autoreset_mode=mode
    )


def test_td_target_double_and_vanilla_by_hand():
    rewards, terminated, discounts = (
        torch.tensor([1.0, 2.0]),
        torch.tensor([False, True]),
        torch.tensor([0.5, 0.25]),
    )
    next_q_target = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    next_q_online = torch.tensor([[5.0, 1.0], [0.0, 9.0]])
    # Double: online picks action 0 in row 0 -> 1 + 0.5 * 10 = 6; row 1 terminated -> 2.
    torch.testing.assert_close(
        td_target(rewards, terminated, discounts, next_q_target, next_q_online),
        torch.tensor([6.0, 2.0]),
    )
    # Vanilla: max of the target net -> 1 + 0.5 * 20 = 11.
    torch.testing.assert_close(
        td_target(rewards, terminated, discounts, next_q_target), torch.tensor([11.0, 2.0])
    )


@pytest.mark.parametrize(
    "field,value",
    [
        ("gamma", 1.5),
        ("batch_size", 0),
        ("tau", 0.0),
        ("hidden_sizes", ()),
        ("n_step", 0),
        ("learning_rate_end", -1e-3),
        ("learning_rate_decay_steps", -1),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"DQNConfig.{field}"):
        DQNConfig(**{field: value})


def test_presets_and_dict_round_trip():
    config = DQNConfig.preset("cartpole", seed=3)
    assert config.train_freq == 256 and config.gradient_steps == 128 and config.seed == 3
    assert DQNConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown DQN preset"):
        DQNConfig.preset("pong")


def test_rejects_continuous_actions():
    env = gym.make("MountainCarContinuous-v0")
    with pytest.raises(TypeError, match="Discrete action space"):
        DQN(env, DQNConfig(device="cpu"))


@pytest.mark.parametrize(
    "mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP], ids=["same_step", "next_step"]
)
def test_collector_stores_final_observations_and_skips_reset_steps(mode):
    # Always "right": every episode is 0 -> 1 -> 2 -> 3 -> 4 (terminated), 4 transitions;
    # time limit 2 truncates at cell 2.
    agent = DQN(
        corridor_envs(2, mode, time_limit=20),
        DQNConfig(**{**TINY, "learning_starts": 10_000, "epsilon_start": 0.0, "epsilon_end": 0.0}),
    )
    agent.q_values = lambda obs: np.tile([0.0, 1.0], (len(obs), 1))  # a stub policy: always right
    agent.start()
    agent.epsilon = lambda step: 0.0
    agent.config = DQNConfig(**{**TINY, "learning_starts": 0})
    for _ in range(12):
        agent.collect_step()
    envs, entries = agent.buffer.valid_indices()
    batch = agent.buffer.gather(envs[envs == 0], entries[envs == 0])
    cells = batch.obs.argmax(axis=1)
    next_cells = batch.next_obs.argmax(axis=1)
    expected = [0, 1, 2, 3] * 3
    np.testing.assert_array_equal(cells, expected[: len(cells)])
    np.testing.assert_array_equal(next_cells, np.array(expected[: len(cells)]) + 1)
    np.testing.assert_array_equal(batch.terminated, next_cells == GOAL)
    assert len(cells) == (
        12 if mode == AutoresetMode.SAME_STEP else 12 - 2
    )  # NEXT_STEP: 2 reset steps not stored
    assert agent.episodes == 2 * (3 if mode == AutoresetMode.SAME_STEP else 2)


def test_truncation_is_stored_as_bootstrapping():
    agent = DQN(corridor_envs(1, time_limit=2), DQNConfig(**{**TINY, "learning_starts": 10_000}))
    agent.q_values = lambda obs: np.tile([0.0, 1.0], (len(obs), 1))
    agent.start()
    agent.epsilon = lambda step: 0.0
    agent.config = DQNConfig(**{**TINY, "learning_starts": 0})
    for _ in range(4):
        agent.collect_step()
    batch = agent.buffer.gather(*agent.buffer.valid_indices())
    np.testing.assert_array_equal(batch.obs.argmax(1), [0, 1, 0, 1])
    np.testing.assert_array_equal(
        batch.next_obs.argmax(1), [1, 2, 1, 2]
    )  # the final obs of the truncated episode
    assert not batch.terminated.any()


def test_dqn_learns_corridor_q_star():
    # Seed 0, 3000 steps: every greedy action is "right" and max |Q - Q*| < 0.1 (Q* in [0.73, 1]).
    agent = DQN(corridor_envs(1), DQNConfig(**TINY, seed=0))
    agent.learn(3000)
    q = agent.q_values(np.eye(N_CELLS, dtype=np.float32)[:GOAL])  # (4, 2)
    assert np.abs(q - corridor_q_star(0.9)).max() < 0.1
    np.testing.assert_array_equal(q.argmax(axis=1), np.ones(GOAL))
    np.testing.assert_array_equal(evaluate_agent(agent, Corridor(), episodes=2), [1.0, 1.0])


@pytest.mark.parametrize("hand_backward", [True, False])
def test_learning_rate_decays_linearly_with_env_steps(hand_backward):
    # TINY trains every step from step 51: the rate of the phase at step s is
    # 3e-3 + (1e-4 - 3e-3) * s / 400, then 1e-4.
    config = DQNConfig(
        **TINY,
        learning_rate_end=1e-4,
        learning_rate_decay_steps=400,
        hand_backward=hand_backward,
        seed=1,
    )
    agent = DQN(corridor_envs(), config)
    seen = []
    train_phase = agent.train_phase
    agent.train_phase = lambda: seen.append(agent.optimizer.param_groups[0]["lr"]) or train_phase()
    metrics = agent.learn(500)
    assert len(seen) == 450
    assert seen[0] == pytest.approx(3e-3 - 2.9e-3 * 51 / 400) and seen[149] == pytest.approx(
        3e-3 - 2.9e-3 * 200 / 400
    )
    assert seen[-1] == metrics["learning_rate"] == pytest.approx(1e-4)
    constant = DQN(corridor_envs(), DQNConfig(**TINY, seed=1))
    assert constant.learn(100)["learning_rate"] == 3e-3  # no decay steps: the rate stays


def test_evaluation_leaves_training_untouched_and_repeats():
    # Evaluating between training chunks (with exploration) must not change the run:
    # the evaluation draws its own numbers.
    config = DQNConfig(**{**TINY, "eval_epsilon": 0.5}, seed=4)
    straight, evaluated = DQN(corridor_envs(), config), DQN(corridor_envs(), config)
    straight.learn(400)
    evaluated.learn(200)
    first = evaluate_agent(evaluated, Corridor(), episodes=5, seed=7)
    np.testing.assert_array_equal(
        first, evaluate_agent(evaluated, Corridor(), episodes=5, seed=7)
    )  # same seed, same returns
    evaluated.learn(400)
    for a, b in zip(straight.online.parameters(), evaluated.online.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert straight.rng.bit_generator.state == evaluated.rng.bit_generator.state


@pytest.mark.parametrize("n_envs", [1, 2])
def test_save_load_resumes_exactly(tmp_path, n_envs, device):
    config = DQNConfig(
        **{**TINY, "n_step": 2, "device": device},
        learning_rate_end=1e-4,
        learning_rate_decay_steps=500,
        seed=5,
    )
    straight = DQN(corridor_envs(n_envs), config)
    straight.learn(600)
    first = DQN(corridor_envs(n_envs), config)
    first.learn(300)
    first.save(tmp_path / "agent.pt")
    first.learn(350)  # runs on past the checkpoint, as a killed run would have
    resumed, _ = DQN.load(tmp_path / "agent.pt", corridor_envs(n_envs))
    assert resumed.exact_resume and resumed.env_steps == 300
    resumed.learn(600)
    for (name, a), b in zip(
        straight.online.state_dict().items(), resumed.online.state_dict().values()
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert straight.episodes == resumed.episodes and straight.updates == resumed.updates


def test_a_checkpoint_written_on_any_device_loads_on_the_cpu(tmp_path, device):
    trained = DQN(corridor_envs(), DQNConfig(**{**TINY, "device": device}, seed=3))
    trained.learn(300)
    assert next(trained.online.parameters()).device.type == device
    trained.save(tmp_path / "agent.pt")
    loaded, _ = DQN.load(tmp_path / "agent.pt", corridor_envs(), DQNConfig(**TINY, seed=3))
    assert next(loaded.online.parameters()).device.type == "cpu" and loaded.env_steps == 300
    cells = loaded.adapter(np.arange(N_CELLS))  # (5, 5) one-hot
    np.testing.assert_allclose(
        loaded.q_values(cells), trained.q_values(cells), rtol=1e-5, atol=1e-6
    )
    loaded.learn(400)  # its optimizer state came along to the CPU
    assert loaded.updates > trained.updates


def test_phase_target_pass_matches_per_batch_targets():
    # train_phase values all batches' next_obs with the target net in one pass;
    # per-batch passes must give the same steps.
    config = DQNConfig(**{**TINY, "learning_starts": 10_000}, seed=2)
    phased, plain = DQN(corridor_envs(), config), DQN(corridor_envs(), config)
    phased.learn(200)
    batches = [phased.to_tensors(phased.buffer.sample(16)) for _ in range(5)]
    next_q_target = torch.cat([phased.target(b.next_obs) for b in batches]).detach()  # (80, 2)
    for step, batch in enumerate(batches):
        phased.update(batch, next_q_target[step * 16 : (step + 1) * 16])
        plain.update(batch)
    for a, b in zip(phased.online.parameters(), plain.online.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("hand_backward", [True, False])
def test_updates_flush_subnormals_and_restore_them_after_the_phase(hand_backward):
    agent = DQN(
        corridor_envs(),
        DQNConfig(**{**TINY, "learning_starts": 20, "train_freq": 10}, hand_backward=hand_backward),
    )
    owner, name = (
        (agent.mlp_update, "step") if hand_backward else (agent, "update")
    )  # where each path's gradient steps run
    seen, update = [], getattr(owner, name)
    setattr(
        owner,
        name,
        lambda *args, **kwargs: (
            seen.append(float(torch.tensor([1e-39]) * 1.0)) or update(*args, **kwargs)
        ),
    )
    agent.learn(60)
    assert len(seen) == 4 and all(
        value == 0.0 for value in seen
    )  # 1e-39 is subnormal: flushed inside phases
    assert float(torch.tensor([1e-39]) * 1.0) > 0.0  # and kept outside them


def test_paired_difference_by_hand():
    # Differences alternate 1 and 3 over 40 pairs: mean 2, sample std sqrt(40/39),
    # half-width 1.959964 * std / sqrt(40).
    second = np.arange(40.0)
    result = paired_difference(second + np.tile([1.0, 3.0], 20), second)
    half = 1.959964 * np.sqrt(40 / 39) / np.sqrt(40)
    assert (
        np.isclose(result["mean"], 2.0)
        and np.isclose(result["low"], 2.0 - half)
        and np.isclose(result["high"], 2.0 + half)
    )
    with pytest.raises(ValueError, match="n >= 30"):
        paired_difference(np.ones(10), np.ones(10))
