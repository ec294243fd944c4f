"""Our DQN against Stable-Baselines3's on CartPole: the same training phase, the same schedule.

Both sides are given the same initial weights and the same replay batches; after several
training phases (target copied between them) the weights must agree to float rounding, on
the hand-written and the autograd path. ``learn`` must run as many gradient steps and end at
the same exploration rate as SB3's ``learn``. And a whole run of ours driven by SB3's random
numbers (its initial weights, exploration draws and replay indices; SB3 on fused Adam, the
optimizer we use) must reproduce SB3's run bit for bit: every action, every weight.
Skipped without stable-baselines3 (a dev extra).
"""

import gymnasium as gym
import numpy as np
import pytest
import torch

from riley_gym.agents import DQN, DQNConfig, evaluate_agent, make_vector_env
from riley_gym.agents.replay import Batch
from riley_gym.agents.sb3_pairing import sb3_paired_agent

sb3 = pytest.importorskip("stable_baselines3")
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.logger import configure  # noqa: E402
from stable_baselines3.common.type_aliases import ReplayBufferSamples  # noqa: E402

SETTINGS = dict(learning_rate=2.3e-3, batch_size=16, gamma=0.99, max_grad_norm=10.0)
HIDDEN, STEPS, PHASES = [32, 32], 8, 3


def linears(network: torch.nn.Module) -> list[torch.nn.Linear]:
    return [module for module in network.modules() if isinstance(module, torch.nn.Linear)]


def random_phase(rng: np.random.Generator, rows: int) -> Batch:
    """(rows,) CartPole-like transitions, a few terminal, rewards large enough to clip gradients."""
    obs = rng.normal(size=(rows, 4)).astype(np.float32)
    next_obs = (obs + 0.1 * rng.normal(size=(rows, 4))).astype(np.float32)
    return Batch(
        obs,
        rng.integers(2, size=rows),
        rng.uniform(-5, 20, size=rows).astype(np.float32),
        rng.random(rows) < 0.1,
        np.full(rows, SETTINGS["gamma"], np.float32),
        next_obs,
    )


def sb3_model(**settings):
    model = sb3.DQN(
        "MlpPolicy",
        "CartPole-v1",
        policy_kwargs=dict(net_arch=HIDDEN),
        device="cpu",
        seed=0,
        **settings,
    )
    model.set_logger(configure(None, []))
    return model


@pytest.mark.parametrize("hand_backward", [True, False])
def test_training_phases_match_sb3_train(hand_backward):
    config = DQNConfig.cartpole(
        **SETTINGS,
        hidden_sizes=tuple(HIDDEN),
        gradient_steps=STEPS,
        double_dqn=False,
        hand_backward=hand_backward,
        device="cpu",
        flush_denormal=False,
    )
    agent = DQN(make_vector_env("CartPole-v1"), config)
    assert (agent.mlp_update is not None) == hand_backward
    model = sb3_model(**SETTINGS)
    with torch.no_grad():
        for network in (model.q_net, model.q_net_target):
            for theirs, ours in zip(linears(network), linears(agent.online), strict=True):
                theirs.weight.copy_(ours.weight)
                theirs.bias.copy_(ours.bias)
    rng = np.random.default_rng(0)
    batch = SETTINGS["batch_size"]
    for _ in range(PHASES):
        phase = random_phase(rng, batch * STEPS)
        agent.buffer.sample = lambda rows, phase=phase: phase
        agent.train_phase()
        agent.sync_target()
        queue = [Batch(*(x[i * batch : (i + 1) * batch] for x in phase)) for i in range(STEPS)]

        def sample(batch_size, env=None, queue=queue):
            b = queue.pop(0)
            return ReplayBufferSamples(
                torch.from_numpy(b.obs),
                torch.from_numpy(b.actions)[:, None],
                torch.from_numpy(b.next_obs),
                torch.from_numpy(b.terminated.astype(np.float32))[:, None],
                torch.from_numpy(b.returns)[:, None],
            )

        model.replay_buffer.sample = sample
        model.train(gradient_steps=STEPS, batch_size=batch)
        model.q_net_target.load_state_dict(model.q_net.state_dict())
    for theirs, ours in zip(linears(model.q_net), linears(agent.online), strict=True):
        torch.testing.assert_close(ours.weight, theirs.weight, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(ours.bias, theirs.bias, rtol=1e-4, atol=1e-5)
    first = linears(agent.online)[0].weight
    start = DQN(make_vector_env("CartPole-v1"), config)
    assert not torch.allclose(
        first, linears(start.online)[0].weight
    )  # the phases did change the weights


def test_learn_schedule_matches_sb3_learn():
    # Gradient steps counted by env steps (train every train_freq steps once past learning_starts),
    # and epsilon's ramp.
    settings = dict(
        learning_starts=300,
        train_freq=64,
        gradient_steps=2,
        target_update_interval=10,
        batch_size=16,
        buffer_size=5000,
    )
    total, decay = 1024, 400  # a multiple of train_freq: SB3 finishes its last rollout past total
    model = sb3_model(**settings, exploration_fraction=decay / total, exploration_final_eps=0.04)
    model.learn(total)
    agent = DQN(
        make_vector_env("CartPole-v1"),
        DQNConfig.cartpole(
            **settings,
            hidden_sizes=tuple(HIDDEN),
            epsilon_decay_steps=decay,
            double_dqn=False,
            device="cpu",
        ),
    )
    metrics = agent.learn(total)
    assert (
        metrics["updates"]
        == model._n_updates
        == settings["gradient_steps"]
        * sum(
            1
            for step in range(1, total + 1)
            if step % settings["train_freq"] == 0 and step > settings["learning_starts"]
        )
    )
    assert metrics["epsilon"] == pytest.approx(model.exploration_rate) == pytest.approx(0.04)
    for step in (0, 100, 250, 399):
        assert agent.epsilon(step) == pytest.approx(model.exploration_schedule(1 - step / total))


@pytest.mark.parametrize("hand_backward", [True, False])
def test_run_driven_by_sb3_random_numbers_is_sb3_run_bit_for_bit(hand_backward):
    settings = dict(
        learning_rate=2.3e-3,
        batch_size=16,
        buffer_size=5000,
        learning_starts=200,
        gamma=0.99,
        target_update_interval=10,
        train_freq=64,
        gradient_steps=8,
    )
    total, decay, seed = (
        1024,
        600,
        3,
    )  # a multiple of train_freq (SB3 ends its last rollout past total)
    model = sb3.DQN(
        "MlpPolicy",
        "CartPole-v1",
        policy_kwargs=dict(net_arch=HIDDEN, optimizer_kwargs=dict(fused=True)),
        device="cpu",
        seed=seed,
        exploration_fraction=decay / total,
        exploration_final_eps=0.04,
        **settings,
    )
    initial = [p.detach().clone() for p in model.q_net.parameters()]
    sb3_actions = []

    class RecordActions(BaseCallback):
        def _on_step(self):
            sb3_actions.append(int(self.locals["actions"][0]))
            return True

    model.learn(total, callback=RecordActions())

    # Ours from SB3's initial weights, drawing SB3's random numbers (agents/sb3_pairing.py).
    fresh = sb3.DQN(
        "MlpPolicy",
        "CartPole-v1",
        policy_kwargs=dict(net_arch=HIDDEN),
        device="cpu",
        seed=seed,
        **settings,
    )
    for theirs, initial_weights in zip(fresh.q_net.parameters(), initial):
        assert torch.equal(
            theirs, initial_weights
        )  # a model built with the seed starts where the trained one did
    config = DQNConfig.cartpole(
        **settings,
        seed=seed,
        hidden_sizes=tuple(HIDDEN),
        epsilon_decay_steps=decay,
        double_dqn=False,
        hand_backward=hand_backward,
        device="cpu",
    )
    agent = sb3_paired_agent("CartPole-v1", config, fresh)
    agent.learn(total // 2)
    evaluate_agent(
        agent, gym.make("CartPole-v1"), episodes=2, seed=10
    )  # evaluating midway must not disturb the pairing
    agent.learn(total)
    assert agent.updates == model._n_updates > 0
    assert agent.buffer.actions[0, :total].tolist() == sb3_actions
    for ours, theirs in zip(agent.online.parameters(), model.q_net.parameters(), strict=True):
        assert torch.equal(ours, theirs)
    for ours, initial_weights in zip(agent.online.parameters(), initial):
        assert not torch.equal(ours, initial_weights)
