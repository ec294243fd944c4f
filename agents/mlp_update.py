"""DQN gradient steps for ReLU-MLP Q-networks with the backward pass written out by hand.

Why: on a CPU a CartPole-sized update (batch 64, a 4-256-256-2 network) is launch-bound.
Profiled at 1 thread, the matrix products took ~0.2 ms of a 1.2 ms autograd update (the
three 256x256 products of a step ~0.18 ms, ~140 GFLOP/s); the rest was
per-operation overhead: autograd's graph bookkeeping, the optimizer's Python wrapper (~0.1 ms
per ``Adam.step``), separate ReLU masks. Here one step is ~30 tensor operations on
preallocated buffers: the forward (``ReluMLP``: one ``addmm`` + in-place ReLU per layer,
online values of obs and, for Double DQN, next_obs in the same products), the Huber
gradient, the backward (two products and a ``threshold_backward`` per layer) into one flat
gradient buffer, the same global-norm clipping as ``DQN.update`` (scaling the flat buffer at
once), and the same fused Adam kernel that ``torch.optim.Adam(fused=True)`` calls, on the
optimizer's own state tensors (so checkpoints and resume are unchanged). The loss and mean Q
are computed only when asked (a phase reports its last step). ``tests/agents/test_mlp_update.py``
checks it against autograd and ``torch.optim.Adam``; tests/agents/test_dqn_vs_sb3.py checks a
whole run against SB3's bit for bit. Measured per update over CartPole training phases (1
thread, load ~2, the phase's target-network pass and sampling included, throwaway script
timing ``train_phase`` over 20k steps): 0.75 ms instead of 1.27 with Double DQN, 0.61
instead of 1.14 without.

It applies to the plain ``QNetwork`` MLP: Linear/ReLU torso, linear non-dueling head (see
``relu_mlp_linears``); other networks use ``DQN.update``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from riley_gym.agents.targets import td_target

__all__ = ["MLPUpdate", "ReluMLP", "clip_global_norm_", "relu_mlp_linears"]


def clip_global_norm_(
    grads: list[torch.Tensor], max_norm: float, flat: torch.Tensor | None = None
) -> None:
    """Scale ``grads`` in place so their global L2 norm is at most ``max_norm`` (inf: leave them).

    ``nn.utils.clip_grad_norm_(foreach=True)``'s arithmetic without its per-call checks
    (~3% of a CartPole update); used by both update paths so they clip alike. ``flat``: one
    tensor of which every gradient is a view; it is scaled in one product instead of one per
    gradient (the same values).
    """
    if not math.isfinite(max_norm):
        return
    total = torch.linalg.vector_norm(
        torch.stack(torch._foreach_norm(grads))
    )  # () global L2 norm, per-tensor norms first
    scale = (max_norm / (total + 1e-6)).clamp_(max=1.0)
    if flat is None:
        torch._foreach_mul_(grads, scale)
    else:
        flat.mul_(scale)


def relu_mlp_linears(network: nn.Module) -> list[nn.Linear] | None:
    """The Linear layers of ``network`` if it computes Linear (ReLU Linear)*, else None.

    Accepts exactly the leaf modules Linear (with bias) and ReLU, alternating, first and last
    Linear (a ``QNetwork`` with an MLP torso and a linear, non-dueling head).
    """
    leaves = [module for module in network.modules() if not list(module.children())]
    if not leaves or len(leaves) % 2 == 0:
        return None
    for index, module in enumerate(leaves):
        expected = nn.Linear if index % 2 == 0 else nn.ReLU
        if type(module) is not expected:
            return None
    if any(layer.bias is None for layer in leaves[::2]):
        return None
    return leaves[::2]


class ReluMLP:
    """The forward of a Linear (ReLU Linear)* network straight from its weights.

    One ``addmm`` and one in-place ReLU per layer on detached transposed-weight views made
    once: the same kernels as the module's forward without module dispatch, new ReLU outputs
    or autograd (no gradients flow through it; ``MLPUpdate`` writes its own backward). One
    CartPole observation: 16 us instead of 40 (the module under ``inference_mode``); a training
    phase's 8192 next observations through the target network: 9.5 ms instead of 15.6 (1 thread).
    The views follow in-place updates of the parameters (optimizer steps, target copies, loading a
    state dict), not replaced parameters.

    Raises:
        ValueError: if ``relu_mlp_linears(network)`` is None.
    """

    def __init__(self, network: nn.Module) -> None:
        linears = relu_mlp_linears(network)
        if linears is None:
            raise ValueError(
                "ReluMLP needs a Linear/ReLU network ending in a Linear layer "
                "(see relu_mlp_linears)"
            )
        self.linears = linears
        # Detached views share the parameters' storage
        # (they see every in-place update) but carry no autograd history.
        self.weights_t = [layer.weight.detach().t() for layer in linears]  # (in, out) each
        self.biases = [layer.bias.detach() for layer in linears]

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """(rows, features) -> (rows, n_actions)."""
        return self.forward_keeping_inputs(inputs)[1]

    def forward_keeping_inputs(
        self, inputs: torch.Tensor
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(rows, features) -> (the input of each layer, kept for a backward;
        (rows, n_actions) output)."""
        layer_inputs, x, last = [], inputs, len(self.linears) - 1
        for index, (weight_t, bias) in enumerate(zip(self.weights_t, self.biases)):
            layer_inputs.append(x)
            x = torch.addmm(bias, x, weight_t)  # (rows, out)
            if index < last:
                x.relu_()
        return layer_inputs, x


class MLPUpdate:
    """Runs DQN gradient steps on a ReLU MLP without autograd.

    Args:
        network: the online Q-network; ``relu_mlp_linears(network)`` must not be None.
        optimizer: its ``torch.optim.Adam`` (one parameter group over ``network.parameters()``,
            no amsgrad, no weight decay).
        huber_delta: Huber loss threshold (inf: squared error).
        max_grad_norm: global gradient-norm clip (inf: none).

    Raises:
        ValueError: if the network or optimizer is not of the supported kind.
    """

    def __init__(
        self,
        network: nn.Module,
        optimizer: torch.optim.Adam,
        huber_delta: float,
        max_grad_norm: float,
    ) -> None:
        self.forward = ReluMLP(network)
        linears = self.linears = self.forward.linears
        group = optimizer.param_groups
        ordered = [p for layer in linears for p in (layer.weight, layer.bias)]
        if len(group) != 1 or {id(p) for p in group[0]["params"]} != {id(p) for p in ordered}:
            raise ValueError(
                "MLPUpdate needs an optimizer with one parameter group holding exactly the "
                "network's parameters"
            )
        if (
            not isinstance(optimizer, torch.optim.Adam)
            or group[0]["amsgrad"]
            or group[0]["weight_decay"] != 0
            or group[0]["maximize"]
        ):
            raise ValueError(
                "MLPUpdate implements plain Adam only (no amsgrad, weight decay or maximize)"
            )
        self.optimizer, self.params = optimizer, ordered
        self.huber_delta, self.max_grad_norm = huber_delta, max_grad_norm
        # Every gradient is a view of one flat buffer, so clipping scales them with one product.
        self.flat_grad = torch.empty(
            sum(p.numel() for p in ordered), dtype=ordered[0].dtype, device=ordered[0].device
        )
        self.grads, offset = [], 0
        for p in ordered:
            p.grad = self.flat_grad[offset : offset + p.numel()].view_as(
                p
            )  # code reading .grad sees the last step's gradients
            self.grads.append(p.grad)
            offset += p.numel()
        self._adam_lists: tuple | None = (
            None  # (optimizer.state they belong to, exp_avgs, exp_avg_sqs, steps, step counter)
        )

    def _adam_state(
        self,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """The optimizer's (exp_avg, exp_avg_sq, step) tensors, created as ``Adam`` would on its
        first step, and the (n_params,) tensor whose elements the step tensors are.

        Adam keeps a 0-d step tensor per parameter; here they are views of one tensor, counted
        up by one addition (``_foreach_add_`` on CPU is a loop of additions). The lists are
        rebuilt only when the optimizer's state is new (first step, ``load_state_dict``).
        """
        state = self.optimizer.state
        if self._adam_lists is not None and self._adam_lists[0] is state:
            return self._adam_lists[1:]
        for p in self.params:
            if not state[p]:
                state[p]["step"] = torch.zeros(
                    (), dtype=torch.float32, device=p.device
                )  # fused Adam keeps float32 steps
                state[p]["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state[p]["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        step_counter = torch.stack(
            [state[p]["step"].to(torch.float32) for p in self.params]
        )  # (n_params,)
        steps = list(step_counter.unbind())
        for p, step in zip(self.params, steps):
            state[p]["step"] = step
        self._adam_lists = (
            state,
            [state[p]["exp_avg"] for p in self.params],
            [state[p]["exp_avg_sq"] for p in self.params],
            steps,
            step_counter,
        )
        return self._adam_lists[1:]

    @torch.no_grad()
    def step(
        self,
        inputs: torch.Tensor,
        actions: torch.Tensor,
        targets: torch.Tensor | None,
        returns: torch.Tensor | None = None,
        terminated: torch.Tensor | None = None,
        discounts: torch.Tensor | None = None,
        next_q_target: torch.Tensor | None = None,
        metrics: bool = True,
    ) -> dict:
        """One gradient step; returns {"loss", "q_mean"} as 0-d tensors ({} with ``metrics=False``).

        Args:
            inputs: (B, features) observations with ``targets``; for Double DQN (``targets``
                None), (2B, features): observations followed by next observations, whose
                online values pick the next actions.
            actions: (B,) int64 actions taken.
            targets: (B,) regression targets, or None for Double DQN targets (``td_target``)
                from the next four arguments.
            returns, terminated, discounts: (B,) the batch's fields (Double DQN only).
            next_q_target: (B, n_actions) target-network values of next_obs (Double DQN only).
            metrics: compute the loss and mean Q (a training phase reports its last step's only).
        """
        batch = actions.shape[0]
        layer_inputs, x = self.forward.forward_keeping_inputs(inputs)
        if targets is None:
            targets = td_target(
                returns, terminated, discounts, next_q_target, x[batch:]
            )  # (B,) online argmax of next_obs
            x, layer_inputs = x[:batch], [layer_input[:batch] for layer_input in layer_inputs]
        taken = actions[:, None]  # (B, 1)
        q_taken = x.gather(1, taken).squeeze(1)  # (B,)
        # d loss / d q_taken of the mean Huber loss, scattered to the taken actions.
        error = (q_taken - targets).clamp_(-self.huber_delta, self.huber_delta).div_(batch)  # (B,)
        grad_out = torch.zeros_like(x).scatter_(1, taken, error[:, None])  # (B, A)
        grads = self.grads
        for index in range(len(self.linears) - 1, -1, -1):
            layer_input = layer_inputs[index]  # (B, in)
            torch.mm(grad_out.t(), layer_input, out=grads[2 * index])  # (out, in)
            torch.sum(grad_out, 0, out=grads[2 * index + 1])  # (out,)
            if index > 0:
                grad_out = torch.ops.aten.threshold_backward(
                    torch.mm(grad_out, self.linears[index].weight), layer_input, 0.0
                )  # (B, in) through the ReLU
        clip_global_norm_(grads, self.max_grad_norm, self.flat_grad)
        exp_avgs, exp_avg_sqs, steps, step_counter = self._adam_state()
        group = self.optimizer.param_groups[0]
        beta1, beta2 = group["betas"]
        step_counter.add_(1)
        torch._fused_adam_(
            self.params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            weight_decay=0.0,
            eps=float(group["eps"]),
            amsgrad=False,
            maximize=False,
        )
        if not metrics:
            return {}
        return {
            "loss": nn.functional.huber_loss(q_taken, targets, delta=self.huber_delta),
            "q_mean": q_taken.mean(),
        }
