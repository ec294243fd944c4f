"""Deep Q-Networks that estimate E[R | A, S]:
Double DQN with optional dueling head and n-step returns.

The network's outputs are not probabilities but expected discounted returns, one per action.
Papers: Mnih et al. 2015 (Nature DQN: replay, target network, Huber loss, epsilon-greedy);
van Hasselt et al. 2016 (Double DQN: the online net picks the next action, the target net
values it); Wang et al. 2016 (dueling head); Sutton 1988 / Hessel et al. 2018 (n-step returns).

Deviations from Nature DQN, and why:
- Adam instead of RMSProp (as Dopamine, CleanRL and SB3 do; less tuning).
- Double DQN targets by default (``double_dqn``): less overestimation at no extra cost but
  one no-grad forward.
- Truncation (a time limit) bootstraps; only termination cuts the target (Pardo et al., 2018).
  Nature DQN treated every episode end as terminal.
- Gradient-norm clipping (``max_grad_norm``) in place of clipping the TD error to [-1, 1];
  the Huber loss already bounds the gradient of each error.
- Target period, train frequency and learning starts count environment steps summed over the
  vector env (SB3's and CleanRL's convention), not parameter updates.

Collection assumes Gymnasium >= 1.0 vector envs in either autoreset mode, read from
``envs.metadata["autoreset_mode"]``: SAME_STEP (``SyncVectorEnv`` as built by
``agents.vector.make_vector_env``: the final observation is ``info["final_obs"]``) or
NEXT_STEP (ale-py's ``AtariVectorEnv`` default: the step after an episode end is a reset
step whose action is ignored; that transition is not stored).

With ``double_dqn=False`` this is Stable-Baselines3's DQN: given SB3's random numbers (initial
weights, exploration draws, replay indices) and SB3 on fused Adam, a CartPole run reproduces
SB3's action for action and weight for weight (tests/agents/test_dqn_vs_sb3.py; 50k steps
checked). The runs are chaotic: SB3's default foreach Adam differs from fused Adam by ~1e-7,
which grows to 2e-3 in the weights within one 128-step CartPole phase, and SB3's own first
evaluation at 475 moved from 15k to 37.5k steps (seed 1) with that change alone. Compare the
two by many seeds, not a few.
"""

from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from torch import nn

from riley_gym import nets
from riley_gym.agents.mlp_update import MLPUpdate, ReluMLP, clip_global_norm_, relu_mlp_linears
from riley_gym.agents.networks import ObservationAdapter, QNetwork, batch_of_one
from riley_gym.agents.replay import Batch, FrameReplayBuffer, ReplayBuffer
from riley_gym.agents.schedules import LinearSchedule
from riley_gym.agents.targets import td_target
from riley_gym.agents.vector import SeededEpisodes, episode_seed


def _help(text: str) -> dict:
    return {"help": text}


@dataclass(frozen=True)
class DQNConfig(nets.Settings):
    """Every setting of a DQN run; the defaults are Nature DQN's, scaled where noted."""

    seed: int = field(
        default=0, metadata=_help("seed of the agent's numpy and torch generators and of the envs")
    )
    num_envs: int = field(default=1, metadata=_help("parallel environments of the vector env"))
    learning_rate: float = field(
        default=1e-4, metadata=_help("Adam learning rate (at step 0, with a decay)")
    )
    learning_rate_end: float = field(
        default=0.0, metadata=_help("learning rate at the end of its linear decay")
    )
    learning_rate_decay_steps: int = field(
        default=0,
        metadata=_help(
            "env steps of a linear learning-rate decay to learning_rate_end (0: constant "
            "learning_rate); decaying step sizes let Q settle on Q* instead of hovering around it "
            "(8x8 GridWorld, 30k steps, seeds 0-5: max |Q - Q*| at most 0.001 instead of "
            "0.008-0.047 with a constant rate)"
        ),
    )
    adam_eps: float = field(
        default=1e-8, metadata=_help("Adam epsilon (1.5e-4 in Rainbow/Dopamine for Atari)")
    )
    gamma: float = field(default=0.99, metadata=_help("discount factor"))
    batch_size: int = field(default=32, metadata=_help("transitions per gradient step"))
    buffer_size: int = field(default=1_000_000, metadata=_help("replay capacity in transitions"))
    learning_starts: int = field(
        default=50_000, metadata=_help("env steps of uniform random actions before learning")
    )
    train_freq: int = field(default=4, metadata=_help("vector-env steps between training phases"))
    gradient_steps: int = field(default=1, metadata=_help("gradient steps per training phase"))
    target_update_interval: int = field(
        default=10_000, metadata=_help("env steps between target-network updates")
    )
    tau: float = field(
        default=1.0, metadata=_help("target update weight: 1 copies, < 1 is Polyak averaging")
    )
    epsilon_start: float = field(default=1.0, metadata=_help("exploration rate at step 0"))
    epsilon_end: float = field(default=0.1, metadata=_help("exploration rate after the decay"))
    epsilon_decay_steps: int = field(
        default=1_000_000, metadata=_help("env steps of the linear epsilon decay")
    )
    eval_epsilon: float = field(default=0.05, metadata=_help("exploration rate during evaluation"))
    max_grad_norm: float = field(default=10.0, metadata=_help("gradient-norm clip (inf: none)"))
    huber_delta: float = field(
        default=1.0, metadata=_help("Huber loss threshold (inf: squared error)")
    )
    double_dqn: bool = field(
        default=True, metadata=_help("Double DQN targets (False: max over the target net)")
    )
    dueling: bool = field(default=False, metadata=_help("dueling value/advantage head"))
    head_hidden_size: int = field(
        default=0, metadata=_help("hidden units per head stream (0: linear head)")
    )
    hidden_sizes: tuple[int, ...] = field(
        default=(256, 256), metadata=_help("MLP torso widths (vector observations)")
    )
    n_step: int = field(default=1, metadata=_help("rewards summed per target (1: one-step)"))
    frame_replay: bool = field(
        default=True, metadata=_help("store stacked image frames once (FrameReplayBuffer)")
    )
    device: str = field(default="auto", metadata=_help("auto, cpu, cuda or cuda:N"))
    flush_denormal: bool = field(
        default=True,
        metadata=_help(
            "flush subnormal floats to zero during training phases (CPU; see DQN.train_phase): "
            "Adam's first moment decays into subnormals on dead units, which made "
            "fused Adam ~10x slower"
        ),
    )
    hand_backward: bool = field(
        default=True,
        metadata=_help(
            "MLP Q-networks: gradient steps with the backward written out (agents/mlp_update.py): "
            "a CartPole training phase 0.75 instead of 1.27 ms per update with Double DQN, 0.61 "
            "instead of 1.14 without (1 thread); same arithmetic (False: autograd)"
        ),
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        self.check_at_least(
            ["num_envs", "batch_size", "buffer_size", "train_freq", "gradient_steps"], 1
        )
        self.check_at_least(["seed"], 0)
        self.check_at_least(["target_update_interval", "n_step"], 1)
        self.check_at_least(
            [
                "learning_starts",
                "epsilon_decay_steps",
                "head_hidden_size",
                "learning_rate_decay_steps",
            ],
            0,
        )
        self.check_interval(["gamma", "epsilon_start", "epsilon_end", "eval_epsilon"], 0.0, 1.0)
        self.check_interval(["tau"], 0.0, 1.0, low_open=True)
        self.check_above(["learning_rate", "adam_eps", "max_grad_norm", "huber_delta"], 0.0)
        self.check_at_least(["learning_rate_end"], 0.0, integer=False)
        widths = self.hidden_sizes
        self.check(
            "hidden_sizes",
            bool(widths) and all(nets.is_integer(w) and w >= 1 for w in widths),
            "a non-empty list of integer widths >= 1",
        )
        self.check(
            "batch_size",
            self.batch_size <= self.buffer_size,
            f"<= buffer_size ({self.buffer_size})",
        )

    @classmethod
    def cartpole(cls, **overrides) -> DQNConfig:
        """rl-baselines3-zoo's tuned CartPole-v1 settings (hyperparams/dqn.yml), 50k steps."""
        settings = dict(
            learning_rate=2.3e-3,
            batch_size=64,
            buffer_size=100_000,
            learning_starts=1000,
            gamma=0.99,
            target_update_interval=10,
            train_freq=256,
            gradient_steps=128,
            epsilon_end=0.04,
            epsilon_decay_steps=8000,
            hidden_sizes=(256, 256),
            eval_epsilon=0.0,
        )
        return cls(**{**settings, **overrides})

    @classmethod
    def gridworld(cls, **overrides) -> DQNConfig:
        """Small one-hot gridworlds: a small MLP, fast target updates, short exploration, and a
        learning rate decaying to 0 over 50k steps (train_agent.py's default length; give a longer
        run a longer ``learning_rate_decay_steps``): Q settles on Q* (8x8 map, 50k steps, seeds 0-5:
        max |Q - Q*| under 0.0005 and the greedy policy optimal on all six; with a constant rate
        0.005-0.08 and three)."""
        settings = dict(
            learning_rate=1e-3,
            batch_size=64,
            buffer_size=50_000,
            learning_starts=500,
            gamma=0.99,
            target_update_interval=250,
            train_freq=1,
            gradient_steps=1,
            epsilon_end=0.05,
            epsilon_decay_steps=10_000,
            hidden_sizes=(64,),
            eval_epsilon=0.0,
            learning_rate_end=0.0,
            learning_rate_decay_steps=50_000,
        )
        return cls(**{**settings, **overrides})

    @classmethod
    def student(cls, **overrides) -> DQNConfig:
        """The simulated student (flattened Dict observation):
        episodes of tens of steps, n-step 3."""
        settings = dict(
            learning_rate=5e-4,
            batch_size=128,
            buffer_size=100_000,
            learning_starts=1000,
            gamma=0.99,
            target_update_interval=1000,
            train_freq=1,
            gradient_steps=1,
            epsilon_end=0.05,
            epsilon_decay_steps=20_000,
            hidden_sizes=(128, 128),
            n_step=3,
            num_envs=4,
            eval_epsilon=0.0,
        )
        return cls(**{**settings, **overrides})

    @classmethod
    def atari(cls, **overrides) -> DQNConfig:
        """Nature DQN (Mnih et al., 2015) with Adam, as in SB3's and CleanRL's Atari settings."""
        settings = dict(
            learning_rate=1e-4,
            batch_size=32,
            buffer_size=1_000_000,
            learning_starts=50_000,
            gamma=0.99,
            target_update_interval=10_000,
            train_freq=4,
            gradient_steps=1,
            epsilon_end=0.01,
            epsilon_decay_steps=1_000_000,
            eval_epsilon=0.05,
            max_grad_norm=10.0,
        )
        return cls(**{**settings, **overrides})

    PRESETS = ("cartpole", "gridworld", "student", "atari")

    @classmethod
    def preset(cls, name: str, **overrides) -> DQNConfig:
        """The named preset (one of ``DQNConfig.PRESETS``) with ``overrides`` replaced."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown DQN preset {name!r}; choose one of {list(cls.PRESETS)}")
        return getattr(cls, name)(**overrides)


class DQN:
    """A DQN agent on a vector env (or a single env, wrapped in a one-env ``SyncVectorEnv``).

    Args:
        env: a ``gym.vector.VectorEnv`` (see ``agents.vector.make_vector_env``) or a ``gym.Env``;
            discrete action space; Box, Discrete, MultiBinary or Dict/Tuple observations.
        config: the settings.
        buffer: a replay buffer to use instead of the one the config picks (it should draw
            from ``agent.rng`` for reproducibility; built before the agent, it gets its own).

    Raises:
        TypeError: for a non-discrete action space or an unsupported observation space.
    """

    def __init__(
        self,
        env: gym.Env | gym.vector.VectorEnv,
        config: DQNConfig,
        buffer: ReplayBuffer | FrameReplayBuffer | None = None,
    ) -> None:
        if not isinstance(env, gym.vector.VectorEnv):
            env = gym.vector.SyncVectorEnv(
                [lambda: SeededEpisodes(env)], autoreset_mode=AutoresetMode.SAME_STEP
            )
        if not isinstance(env.single_action_space, gym.spaces.Discrete):
            raise TypeError(f"DQN needs a Discrete action space, got {env.single_action_space}")
        self.envs, self.config = env, config
        self.n_envs = env.num_envs
        self.n_actions = int(env.single_action_space.n)
        self.adapter = ObservationAdapter(env.single_observation_space)
        self.autoreset_mode = AutoresetMode(
            env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        )
        self.device = nets.select_device(config.device)
        self.rng = np.random.default_rng(config.seed)
        self.torch_rng = torch.Generator().manual_seed(config.seed)
        with torch.random.fork_rng(
            devices=[]
        ):  # initialise weights from the agent's generator, not the global one
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=self.torch_rng)))
            self.online = QNetwork(
                self.adapter.shape,
                self.n_actions,
                self.adapter.is_image,
                config.hidden_sizes,
                config.dueling,
                config.head_hidden_size,
            ).to(self.device)
        self.target = QNetwork(
            self.adapter.shape,
            self.n_actions,
            self.adapter.is_image,
            config.hidden_sizes,
            config.dueling,
            config.head_hidden_size,
        ).to(self.device)
        self.target.load_state_dict(self.online.state_dict())
        self.target.requires_grad_(False)
        if (
            self.adapter.is_image
        ):  # channels-last convolutions: 8-10% faster Breakout updates on CPU (A/B, 1 thread)
            self.online.to(memory_format=torch.channels_last)
            self.target.to(memory_format=torch.channels_last)
        # The target sync copies these tensors in place (built once:
        # state_dict() per copy cost 40 of its 50 us on CartPole).
        self._sync_pairs = (
            [*self.target.parameters(), *self.target.buffers()],
            [*self.online.parameters(), *self.online.buffers()],
        )
        # Fused Adam: one kernel for all parameters (CPU support since torch 2.4).
        self._parameters = list(self.online.parameters())
        self.optimizer = torch.optim.Adam(
            self._parameters, lr=config.learning_rate, eps=config.adam_eps, fused=True
        )
        # ReLU MLPs act and value targets through ReluMLP (the module's kernels, no module
        # dispatch), and train through MLPUpdate's hand-written backward unless hand_backward is
        # off; other networks through modules and autograd.
        plain_mlp = relu_mlp_linears(self.online) is not None
        self.online_forward = ReluMLP(self.online) if plain_mlp else self.online
        self.target_forward = ReluMLP(self.target) if plain_mlp else self.target
        self.mlp_update = (
            MLPUpdate(self.online, self.optimizer, config.huber_delta, config.max_grad_norm)
            if plain_mlp and config.hand_backward
            else None
        )
        self.epsilon = LinearSchedule(
            config.epsilon_start, config.epsilon_end, config.epsilon_decay_steps
        )
        self.learning_rate = (
            LinearSchedule(
                config.learning_rate, config.learning_rate_end, config.learning_rate_decay_steps
            )
            if config.learning_rate_decay_steps > 0
            else None
        )
        if buffer is not None:
            self.buffer = buffer
        elif self.adapter.is_image and config.frame_replay:
            self.buffer: ReplayBuffer | FrameReplayBuffer = FrameReplayBuffer(
                config.buffer_size,
                self.adapter.shape,
                self.n_envs,
                self.rng,
                config.n_step,
                config.gamma,
            )
        else:
            self.buffer = ReplayBuffer(
                config.buffer_size,
                self.adapter.shape,
                self.adapter.dtype,
                self.n_envs,
                self.rng,
                config.n_step,
                config.gamma,
            )
        self.env_steps = self.vector_steps = self.updates = 0
        self.obs: np.ndarray | None = None  # (n_envs, *obs_shape) current observations
        self.after_end = np.zeros(
            self.n_envs, dtype=bool
        )  # NEXT_STEP: this row's next step is a reset step
        self.episode_return = np.zeros(self.n_envs)
        self.episode_length = np.zeros(self.n_envs, dtype=np.int64)
        self.recent_returns: collections.deque = collections.deque(maxlen=100)
        self.episodes = 0
        self.exact_resume = True

    # The estimate and the policy.
    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """(batch, *obs_shape) adapted observations -> (batch, n_actions) E[R | A, S] estimates."""
        inputs = torch.from_numpy(np.asarray(obs)).to(self.device)
        if (
            self.online_forward is not self.online
        ):  # ReluMLP computes from detached views: no autograd to switch off
            return self.online_forward(inputs).cpu().numpy()  # (batch, n_actions)
        with torch.inference_mode():
            return self.online(inputs).cpu().numpy()

    def act(
        self, obs: np.ndarray, epsilon: float = 0.0, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Epsilon-greedy actions (batch,) for adapted observations (batch, *obs_shape).

        ``rng`` draws the exploration (default: the agent's generator, which training uses;
        evaluation passes its own so that evaluating does not change the training run).
        """
        rng = self.rng if rng is None else rng
        explore = rng.random(len(obs)) < epsilon  # (batch,)
        random_actions = rng.integers(
            self.n_actions, size=len(obs)
        )  # (batch,) drawn always: same RNG stream either way
        if explore.all():
            return random_actions
        return np.where(explore, random_actions, self.q_values(obs).argmax(axis=1))

    # Learning.
    def to_tensors(self, batch: Batch) -> Batch:
        """A numpy batch as tensors on the agent's device (one ``from_numpy`` per array)."""
        return Batch(
            *(
                torch.from_numpy(np.ascontiguousarray(x)).to(self.device, non_blocking=True)
                for x in batch
            )
        )

    def update(self, batch: Batch, next_q_target: torch.Tensor | None = None) -> dict:
        """One gradient step on a replay batch; returns {"loss", "q_mean"} as 0-d tensors (no sync).

        Args:
            batch: a replay batch (numpy, or tensors from ``to_tensors``).
            next_q_target: (B, n_actions) target-network Q-values of ``batch.next_obs`` when
                already computed (``learn`` computes a whole training phase's at once: the
                target network does not change within a phase); None computes them here.
        """
        if isinstance(batch.obs, np.ndarray):
            batch = self.to_tensors(batch)
        with torch.no_grad():
            if next_q_target is None:
                next_q_target = self.target_forward(batch.next_obs)  # (B, A)
            # A separate no-grad online pass over next_obs keeps it out of the backward: 49% of a
            # Breakout update was convolution backward; for the CartPole MLP it beat one grad pass
            # over cat([obs, next_obs]) by ~10% end to end
            # (the backward then covers B rows, not 2B).
            next_q_online = (
                self.online(batch.next_obs) if self.config.double_dqn else None
            )  # (B, A)
        q_all = self.online(batch.obs)  # (B, A)
        targets = td_target(
            batch.returns, batch.terminated, batch.discounts, next_q_target, next_q_online
        )  # (B,)
        q_taken = q_all.gather(1, batch.actions[:, None]).squeeze(1)  # (B,)
        loss = nn.functional.huber_loss(q_taken, targets, delta=self.config.huber_delta)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_global_norm_([p.grad for p in self._parameters], self.config.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        return {"loss": loss.detach(), "q_mean": q_taken.detach().mean()}

    def train_phase(self) -> dict:
        """``gradient_steps`` updates on batches drawn at once; returns the last update's metrics.

        The buffer and the target network do not change within a phase, so all batches are
        sampled and moved to torch together and, for vector observations, the target network
        values every batch's next_obs in one forward pass (launch-bound small MLPs: one large
        matrix product instead of ``gradient_steps`` small ones).

        With ``config.flush_denormal`` the phase runs with subnormal floats flushed to zero
        (``torch.set_flush_denormal``, on the calling thread; set back to False afterwards).
        Adam's first moment of a parameter whose gradient is 0 (a dead ReLU unit) decays by
        beta1 per step through the subnormal range, where x86 arithmetic is ~100x slower: 55%
        of the CartPole network's exp_avg entries were subnormal after 6k steps, and fused Adam
        took 0.9 ms per step instead of 0.1 ms. Values below 1.2e-38 become 0, nothing else changes.
        """
        config = self.config
        phase = self.to_tensors(self.buffer.sample(config.batch_size * config.gradient_steps))
        if config.flush_denormal:
            torch.set_flush_denormal(True)
        try:
            next_q_target = None
            if not self.adapter.is_image:
                with torch.no_grad():
                    next_q_target = self.target_forward(phase.next_obs)  # (steps * B, A)
            if self.mlp_update is not None:
                return self._hand_backward_phase(phase, next_q_target)
            last = {}
            for step in range(config.gradient_steps):
                rows = slice(step * config.batch_size, (step + 1) * config.batch_size)
                last = self.update(
                    Batch(*(x[rows] for x in phase)),
                    None if next_q_target is None else next_q_target[rows],
                )
        finally:
            if config.flush_denormal:
                torch.set_flush_denormal(False)
        return last

    def _hand_backward_phase(self, phase: Batch, next_q_target: torch.Tensor) -> dict:
        """``train_phase``'s updates through ``self.mlp_update``, with per-phase work hoisted.

        Without Double DQN every target of the phase is known before its first step (the
        target network is fixed within a phase) and is computed at once; with it, each step
        feeds [obs; next_obs] through the online network in one pass (``MLPUpdate.step``).
        """
        config, batch = self.config, self.config.batch_size
        steps = config.gradient_steps
        with torch.no_grad():
            if config.double_dqn:
                features = phase.obs.shape[1]
                inputs = torch.cat(
                    [
                        phase.obs.view(steps, batch, features),
                        phase.next_obs.view(steps, batch, features),
                    ],
                    dim=1,
                )  # (steps, 2B, F)
                targets = None
            else:
                inputs = phase.obs.view(steps, batch, -1)  # (steps, B, F)
                targets = td_target(
                    phase.returns, phase.terminated, phase.discounts, next_q_target
                )  # (steps * B,)

        def per_step(
            x: torch.Tensor,
        ) -> tuple[torch.Tensor, ...]:  # (steps * B, ...) -> steps views (B, ...), made at once
            return x.view(steps, batch, *x.shape[1:]).unbind()

        if targets is None:
            arguments = zip(
                inputs.unbind(),
                per_step(phase.actions),
                itertools.repeat(None),
                per_step(phase.returns),
                per_step(phase.terminated),
                per_step(phase.discounts),
                per_step(next_q_target),
            )
        else:
            arguments = zip(inputs.unbind(), per_step(phase.actions), per_step(targets))
        last = {}
        for step, step_arguments in enumerate(arguments):
            last = self.mlp_update.step(
                *step_arguments, metrics=step == steps - 1
            )  # the phase reports its last step
            self.updates += 1
        return last

    def sync_target(self) -> None:
        """Copy (tau = 1) or Polyak-average (tau < 1) the online weights into the target network."""
        with torch.no_grad():
            targets, onlines = self._sync_pairs
            if (
                self.config.tau >= 1.0
            ):  # one foreach copy: 11 us on CartPole, load_state_dict 100 us (every 10 steps there)
                torch._foreach_copy_(targets, onlines)
            else:
                torch._foreach_lerp_(targets, onlines, self.config.tau)

    def start(self) -> None:
        """Reset the vector env with the config's seed (done by ``learn`` when needed)."""
        raw, _ = self.envs.reset(seed=self.config.seed)
        self.obs = self.adapter(raw)
        self.after_end[:] = False

    def _real_next_obs(self, raw_next, ended: np.ndarray, info: dict) -> np.ndarray:
        """(n_envs, *obs_shape) true next observations:
        SAME_STEP puts final ones in info["final_obs"]."""
        next_obs = self.adapter(raw_next)
        if self.autoreset_mode == AutoresetMode.SAME_STEP and ended.any():
            real = next_obs.copy()
            for row in np.flatnonzero(ended):
                real[row] = self.adapter(
                    batch_of_one(self.envs.single_observation_space, info["final_obs"][row])
                )[0]
            return real
        return next_obs

    def collect_step(self) -> None:
        """Act in every env once, store the transitions, and count finished episodes."""
        epsilon = (
            1.0 if self.env_steps < self.config.learning_starts else self.epsilon(self.env_steps)
        )
        actions = self.act(self.obs, epsilon)  # (n_envs,)
        raw_next, rewards, terminated, truncated, info = self.envs.step(actions)
        ended = np.logical_or(terminated, truncated)  # (n_envs,)
        stored = ~self.after_end  # NEXT_STEP reset steps are not transitions
        next_obs = self._real_next_obs(raw_next, ended, info)
        self.buffer.add(self.obs, actions, rewards, terminated, truncated, next_obs, stored)
        self.episode_return += np.where(stored, rewards, 0.0)
        self.episode_length += stored
        if ended.any():  # most steps end nothing: skip the bookkeeping
            for row in np.flatnonzero(ended & stored):
                self.recent_returns.append(float(self.episode_return[row]))
                self.episodes += 1
            self.episode_return[ended], self.episode_length[ended] = 0.0, 0
        if (
            self.autoreset_mode == AutoresetMode.NEXT_STEP
        ):  # SAME_STEP has no reset steps: after_end stays all False
            self.after_end = ended & stored
        self.obs = self.adapter(raw_next)
        self.env_steps += self.n_envs
        self.vector_steps += 1

    def learn(self, total_steps: int) -> dict:
        """Collect and train until ``env_steps`` reaches ``total_steps`` (call again to continue).

        Returns:
            {"env_steps", "updates", "episodes", "epsilon", "learning_rate" (of the last phase),
            "recent_return" (mean of the last 100 episodes, nan if none), "loss", "q_mean" (last
            update, nan if none)}.
        """
        config, last = self.config, {}
        if self.obs is None:
            self.start()
        target_period = max(config.target_update_interval // self.n_envs, 1)
        while self.env_steps < total_steps:
            self.collect_step()
            if (
                self.env_steps > config.learning_starts
                and self.vector_steps % config.train_freq == 0
            ):
                if (
                    self.learning_rate is not None
                ):  # set from the step count: a resumed run gets the same rates
                    self.optimizer.param_groups[0]["lr"] = self.learning_rate(self.env_steps)
                last = self.train_phase()
            if self.vector_steps % target_period == 0:
                self.sync_target()
        return {
            "env_steps": self.env_steps,
            "updates": self.updates,
            "episodes": self.episodes,
            "epsilon": self.epsilon(self.env_steps),
            "learning_rate": float(self.optimizer.param_groups[0]["lr"]),
            "recent_return": float(np.mean(self.recent_returns))
            if self.recent_returns
            else float("nan"),
            "loss": float(last["loss"]) if last else float("nan"),
            "q_mean": float(last["q_mean"]) if last else float("nan"),
        }

    # Checkpoints.
    def _env_states(self) -> list[dict] | None:
        subs = getattr(self.envs, "envs", None)
        if subs is None or not all(isinstance(sub, SeededEpisodes) for sub in subs):
            return None
        return [
            {**sub.episode_state(), "actions": np.asarray(sub.actions, dtype=np.int64)}
            for sub in subs
        ]

    def save(
        self, path: str | Path, include_replay: bool = True, extra: dict | None = None
    ) -> Path:
        """Write a checkpoint (weights, optimizer, counters, RNG states, collector state, replay).

        Args:
            path: destination file (written atomically).
            include_replay: store the replay buffer (needed for an exact resume).
            extra: more plain values to store (e.g. a script's metric history),
                returned by ``load``.
        """
        payload = {
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "counters": {
                "env_steps": self.env_steps,
                "vector_steps": self.vector_steps,
                "updates": self.updates,
                "episodes": self.episodes,
            },
            "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": self.torch_rng.get_state(),
            "collector": {
                "obs": self.obs,
                "after_end": self.after_end,
                "episode_return": self.episode_return,
                "episode_length": self.episode_length,
                "recent_returns": list(self.recent_returns),
                "env_states": self._env_states(),
            },
            "replay": self.buffer.state_dict() if include_replay else None,
            "extra": extra or {},
        }
        return nets.save_checkpoint(
            path,
            payload,
            {
                "dqn": self.config.to_dict(),
                "observation_shape": list(self.adapter.shape),
                "n_actions": self.n_actions,
            },
        )

    @classmethod
    def load(
        cls, path: str | Path, env: gym.Env | gym.vector.VectorEnv, config: DQNConfig | None = None
    ) -> tuple[DQN, dict]:
        """Rebuild an agent from a checkpoint and put its environments back where they were.

        Environments made by ``make_vector_env`` are restored exactly (reset with the episode's
        seed, actions replayed); others are reset with a seed derived from the step count
        (``agent.exact_resume`` becomes False). Without a stored replay, training restarts
        from an empty buffer.

        Args:
            path: checkpoint file.
            env: environments like the ones of the saved run.
            config: settings to use instead of the stored ones (e.g. another device).

        Returns:
            (agent, extra values given to ``save``).
        """
        payload, stored = nets.load_checkpoint(path, map_location="cpu")
        agent = cls(env, config or DQNConfig.from_dict(stored["dqn"]))
        agent.online.load_state_dict(payload["online"])
        agent.target.load_state_dict(payload["target"])
        agent.optimizer.load_state_dict(payload["optimizer"])
        counters = payload["counters"]
        agent.env_steps, agent.vector_steps, agent.updates, agent.episodes = (
            int(counters[k]) for k in ("env_steps", "vector_steps", "updates", "episodes")
        )
        agent.rng.bit_generator.state = payload["numpy_rng"]
        agent.torch_rng.set_state(payload["torch_rng"])
        if payload["replay"] is not None:
            agent.buffer.load_state_dict(
                {key: np.asarray(value) for key, value in payload["replay"].items()}
            )
        collector = payload["collector"]
        agent.recent_returns.extend(collector["recent_returns"])
        if collector["obs"] is not None:
            agent._restore_envs(collector)
        return agent, payload["extra"]

    def _restore_envs(self, collector: dict) -> None:
        saved_obs = np.asarray(collector["obs"])
        env_states = collector["env_states"]
        subs = getattr(self.envs, "envs", None)
        if env_states is not None and subs is not None and len(subs) == len(env_states):
            self.envs.reset(seed=self.config.seed)  # order the sub-envs' wrappers, then replay each
            raw = [
                sub.restore({**state, "actions": np.asarray(state["actions"]).tolist()})
                for sub, state in zip(subs, env_states)
            ]
            self.obs = np.concatenate(
                [self.adapter(batch_of_one(self.envs.single_observation_space, obs)) for obs in raw]
            )
            if not np.array_equal(self.obs, saved_obs):
                raise ValueError(
                    "replaying the saved episodes did not reproduce the saved observations: the "
                    "env is not deterministic given its seed and actions, so an exact resume is "
                    "impossible"
                )
            self.after_end = np.asarray(collector["after_end"], dtype=bool)
            self.episode_return = np.asarray(collector["episode_return"], dtype=np.float64).copy()
            self.episode_length = np.asarray(collector["episode_length"], dtype=np.int64).copy()
        else:
            raw, _ = self.envs.reset(seed=episode_seed(self.config.seed, self.env_steps))
            self.obs = self.adapter(raw)
            self.exact_resume = False
            if isinstance(self.buffer, FrameReplayBuffer):
                self.buffer.pending[:] = False  # the restarted episodes begin new streams
