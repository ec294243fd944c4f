"""The hand-written MLP gradient step against autograd and torch.optim.Adam,
and DQN's choice of path."""

import numpy as np
import pytest
import torch
from test_dqn import TINY, corridor_envs

from riley_gym import nets
from riley_gym.agents import DQN, DQNConfig, td_target
from riley_gym.agents.mlp_update import MLPUpdate, relu_mlp_linears
from riley_gym.agents.networks import QNetwork


def autograd_step(network, optimizer, obs, actions, targets, delta, max_norm):
    """The reference: DQN.update's loss, clipping and Adam step, through autograd."""
    q_taken = network(obs).gather(1, actions[:, None]).squeeze(1)
    loss = torch.nn.functional.huber_loss(q_taken, targets, delta=delta)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(network.parameters(), max_norm)
    optimizer.step()
    return loss


def twin_networks(seed=0, hidden=(16, 8), n_actions=3, features=5):
    torch.manual_seed(seed)
    a = QNetwork((features,), n_actions, False, hidden)
    b = QNetwork((features,), n_actions, False, hidden)
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.mark.parametrize(
    "delta,max_norm", [(1.0, 10.0), (0.05, 10.0), (float("inf"), 0.3), (1.0, float("inf"))]
)
def test_steps_match_autograd_and_torch_adam(delta, max_norm):
    # Large and small Huber thresholds (linear and quadratic regions), active and absent clipping.
    reference, fast = twin_networks()
    ref_opt = torch.optim.Adam(reference.parameters(), lr=1e-2, eps=1e-6, fused=True)
    fast_opt = torch.optim.Adam(fast.parameters(), lr=1e-2, eps=1e-6, fused=True)
    update = MLPUpdate(fast, fast_opt, delta, max_norm)
    generator = torch.Generator().manual_seed(1)
    for _ in range(6):
        obs = torch.randn(12, 5, generator=generator)
        actions = torch.randint(0, 3, (12,), generator=generator)
        targets = torch.randn(12, generator=generator) * 3
        loss = autograd_step(
            reference,
            ref_opt,
            obs,
            actions,
            targets,
            delta,
            max_norm if np.isfinite(max_norm) else 1e30,
        )
        metrics = update.step(obs, actions, targets)
        torch.testing.assert_close(metrics["loss"], loss.detach(), rtol=1e-5, atol=1e-6)
    for (name, a), b in zip(reference.state_dict().items(), fast.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6, msg=name)
    for a, b in zip(
        ref_opt.state_dict()["state"].values(), fast_opt.state_dict()["state"].values()
    ):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-7, msg=key)


def test_double_dqn_targets_from_the_joint_pass():
    # With targets=None the step stacks [obs; next_obs] and builds Double DQN targets itself.
    reference, fast = twin_networks(seed=3)
    ref_opt = torch.optim.Adam(reference.parameters(), lr=1e-2, fused=True)
    update = MLPUpdate(fast, torch.optim.Adam(fast.parameters(), lr=1e-2, fused=True), 1.0, 10.0)
    generator = torch.Generator().manual_seed(4)
    for _ in range(4):
        obs, next_obs = (
            torch.randn(8, 5, generator=generator),
            torch.randn(8, 5, generator=generator),
        )
        actions = torch.randint(0, 3, (8,), generator=generator)
        rewards, terminated = (
            torch.randn(8, generator=generator),
            torch.rand(8, generator=generator) < 0.3,
        )
        discounts = torch.full((8,), 0.9)
        next_q_target = torch.randn(8, 3, generator=generator)
        with torch.no_grad():
            targets = td_target(rewards, terminated, discounts, next_q_target, reference(next_obs))
        autograd_step(reference, ref_opt, obs, actions, targets, 1.0, 10.0)
        update.step(
            torch.cat([obs, next_obs]), actions, None, rewards, terminated, discounts, next_q_target
        )
    for a, b in zip(reference.parameters(), fast.parameters()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_forward_matches_the_module():
    network, _ = twin_networks(seed=5)
    update = MLPUpdate(network, torch.optim.Adam(network.parameters(), fused=True), 1.0, 10.0)
    obs = torch.randn(7, 5)
    torch.testing.assert_close(update.forward(obs), network(obs), rtol=1e-6, atol=1e-6)


def test_forwards_follow_in_place_weight_changes(tmp_path):
    # ReluMLP keeps transposed views made once: after training, target syncs and loading a
    # checkpoint the agent's dispatch-free forwards must still equal its modules' forwards.
    agent = DQN(corridor_envs(), DQNConfig(**{**TINY, "learning_starts": 40}, seed=2))
    obs = torch.eye(5)
    agent.learn(200)
    agent.sync_target()
    for forward, module in (
        (agent.online_forward, agent.online),
        (agent.target_forward, agent.target),
    ):
        torch.testing.assert_close(forward(obs), module(obs), rtol=0, atol=0)
    agent.save(tmp_path / "agent.pt")
    loaded, _ = DQN.load(tmp_path / "agent.pt", corridor_envs())
    torch.testing.assert_close(loaded.online_forward(obs), agent.online(obs), rtol=0, atol=0)
    torch.testing.assert_close(loaded.target_forward(obs), agent.target(obs), rtol=0, atol=0)
    loaded.learn(
        300
    )  # and training goes on after the load (step tensors re-linked to the loaded optimizer state)
    assert loaded.optimizer.state_dict()["state"][0]["step"].item() == loaded.updates
    torch.testing.assert_close(loaded.online_forward(obs), loaded.online(obs), rtol=0, atol=0)


def test_takes_linear_relu_chains_only():
    assert (
        len(relu_mlp_linears(QNetwork((5,), 3, False, (8,), head_hidden_size=4))) == 3
    )  # a hidden head layer is one more link
    assert relu_mlp_linears(QNetwork((5,), 3, False, (8,), dueling=True)) is None
    assert relu_mlp_linears(QNetwork((4, 84, 84), 3, True)) is None
    assert (
        relu_mlp_linears(
            torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
        )
        is None
    )
    assert relu_mlp_linears(nets.MLP(5, (8,), out_features=3, dropout=0.1)) is None
    assert relu_mlp_linears(torch.nn.Sequential(torch.nn.Linear(5, 8, bias=False))) is None
    network = QNetwork((5,), 3, False, (8,), dueling=True)
    with pytest.raises(ValueError, match="Linear/ReLU"):
        MLPUpdate(network, torch.optim.Adam(network.parameters()), 1.0, 10.0)


def test_rejects_an_optimizer_it_does_not_implement():
    network, _ = twin_networks()
    with pytest.raises(ValueError, match="plain Adam"):
        MLPUpdate(network, torch.optim.Adam(network.parameters(), weight_decay=0.1), 1.0, 10.0)
    with pytest.raises(ValueError, match="plain Adam"):
        MLPUpdate(network, torch.optim.SGD(network.parameters(), lr=0.1), 1.0, 10.0)
    with pytest.raises(ValueError, match="exactly the network's parameters"):
        MLPUpdate(network, torch.optim.Adam(list(network.parameters())[:2]), 1.0, 10.0)


@pytest.mark.parametrize("double_dqn", [True, False])
def test_agent_trains_the_same_on_either_path(double_dqn):
    # Same seed, same batches: hand-written and autograd phases end at the same weights.
    config = dict(
        TINY, learning_starts=40, train_freq=8, gradient_steps=4, double_dqn=double_dqn, seed=7
    )
    fast, slow = (
        DQN(corridor_envs(), DQNConfig(**config)),
        DQN(corridor_envs(), DQNConfig(**config, hand_backward=False)),
    )
    assert fast.mlp_update is not None and slow.mlp_update is None
    fast.learn(300)
    slow.learn(300)
    assert fast.updates == slow.updates > 100
    for (name, a), b in zip(slow.online.state_dict().items(), fast.online.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-5, msg=name)
    np.testing.assert_allclose(
        fast.q_values(np.eye(5, dtype=np.float32)),
        slow.q_values(np.eye(5, dtype=np.float32)),
        rtol=1e-3,
        atol=1e-5,
    )


def test_dueling_agent_keeps_autograd():
    assert DQN(corridor_envs(), DQNConfig(**TINY, dueling=True)).mlp_update is None
