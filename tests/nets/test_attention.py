"""nets.attention: shapes, masks (no future step ever contributes), SDPA against a plain
softmax, AKT's monotonic decay, positions."""

import math

import pytest
import torch

from riley_gym import nets

VARIANTS = [
    pytest.param(dict(norm="post"), id="post-norm"),
    pytest.param(dict(norm="pre"), id="pre-norm"),
    pytest.param(dict(norm="post", d_ff=32), id="post-norm-ffn"),
    pytest.param(dict(norm="pre", d_ff=32), id="pre-norm-ffn"),
    pytest.param(dict(monotonic=True), id="monotonic"),
    pytest.param(dict(monotonic=True, shared_key_query=True, d_ff=32), id="monotonic-kq-same"),
]


def _block(**options):
    torch.manual_seed(0)
    return nets.AttentionBlock(16, 4, dropout=0.0, **options).eval()


def _inputs(batch=3, time=7, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, time, 16, generator=generator) for _ in range(3)]


@pytest.mark.parametrize("options", VARIANTS)
def test_shapes_and_finite_outputs(options):
    block = _block(**options)
    query, key, value = _inputs()
    out = block(query, key, value, nets.causal_mask(7))
    assert out.shape == (3, 7, 16) and torch.isfinite(out).all()
    cross = block(query[:, :4], key, value, torch.ones(4, 7, dtype=torch.bool))
    assert cross.shape == (3, 4, 16)
    with pytest.raises(ValueError, match="allowed"):
        block(query, key, value, torch.ones(3, 6, 7, dtype=torch.bool))


@pytest.mark.parametrize("include_current", [True, False], ids=["with-current", "strict"])
@pytest.mark.parametrize("options", VARIANTS)
def test_perturbing_the_future_never_moves_earlier_outputs(options, include_current):
    block = _block(**options)
    query, key, value = _inputs()
    allowed = nets.causal_mask(7, include_current)
    before = block(query, key, value, allowed)
    for step in range(7):
        # Queries after `step`, and keys/values the queries up to `step` may not read, change.
        first_unseen = step + 1 if include_current else step
        q, k, v = query.clone(), key.clone(), value.clone()
        q[:, step + 1 :] += 5 * torch.randn_like(q[:, step + 1 :])
        k[:, first_unseen:] += 5 * torch.randn_like(k[:, first_unseen:])
        v[:, first_unseen:] += 5 * torch.randn_like(v[:, first_unseen:])
        after = block(q, k, v, allowed)
        assert torch.equal(after[:, : step + 1], before[:, : step + 1]), step
        if step + 1 < 7:
            assert not torch.allclose(after[:, step + 1 :], before[:, step + 1 :])


@pytest.mark.parametrize("options", VARIANTS)
def test_history_mask_limits_each_query_to_its_previous_attempt(options):
    # Rows 1-2 and 4-6 are multi-skill attempts: each row may read up to its previous attempt.
    limit = torch.tensor([[-1, 0, 0, 2, 3, 3, 3]])
    allowed = nets.history_mask(limit)
    assert allowed.shape == (1, 7, 7)
    assert allowed[0, 4].tolist() == [True, True, True, True, False, False, False]
    block = _block(**options)
    query, key, value = _inputs(batch=1)
    before = block(query, key, value, allowed)
    k, v = key.clone(), value.clone()
    k[:, 4:] += 3 * torch.randn_like(k[:, 4:])
    v[:, 4:] += 3 * torch.randn_like(v[:, 4:])
    assert torch.equal(block(query, k, v, allowed), before)  # rows 4-6 read keys <= 3 only
    v[:, 3] += 3 * torch.randn_like(v[:, 3])
    assert not torch.allclose(block(query, k, v, allowed)[:, 4:], before[:, 4:])


@pytest.mark.parametrize("options", VARIANTS)
def test_a_query_that_sees_nothing_gets_a_zero_attention_output(options):
    block = _block(**options)
    query, key, value = _inputs()
    allowed = nets.causal_mask(7, include_current=False)  # row 0 sees no key
    assert torch.equal(
        block.attend(query, key, value, allowed)[:, 0],
        block.attend(query, key * 0, value * 0, allowed)[:, 0],
    )
    assert torch.allclose(
        block.attend(query, key, value, allowed)[:, 0], block.output_projection.bias.expand(3, 16)
    )


def _plain_attention(block, query, key, value, allowed):
    """The attention sublayer written out: softmax(q k^T / sqrt(d) masked) v, per head."""
    batch, time, _ = query.shape
    heads, width = block.n_heads, block.d_head
    key_projection = block.key_projection or block.query_projection

    def split(x):
        return x.view(batch, -1, heads, width).transpose(1, 2)

    q = split(block.query_projection(query))
    k = split(key_projection(key))
    v = split(block.value_projection(value))
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(width)
    scores = scores.masked_fill(~allowed, float("-inf"))
    mixed = torch.softmax(scores, dim=-1) @ v
    return block.output_projection(mixed.transpose(1, 2).reshape(batch, time, -1))


def test_sdpa_path_equals_a_plain_softmax_attention():
    block = _block()
    query, key, value = _inputs()
    allowed = nets.causal_mask(7)
    expected = _plain_attention(block, query, key, value, allowed)
    assert torch.allclose(block.attend(query, key, value, allowed), expected, atol=1e-5)


def test_monotonic_attention_without_decay_is_plain_attention():
    plain = _block()
    monotonic = _block(monotonic=True)
    monotonic.load_state_dict({**plain.state_dict(), "gamma": torch.full((4,), -60.0)})
    query, key, value = _inputs()
    allowed = nets.causal_mask(7)
    assert torch.allclose(
        monotonic(query, key, value, allowed), plain(query, key, value, allowed), atol=1e-5
    )


def test_monotonic_decay_moves_attention_to_recent_steps_and_trains_gamma():
    block = _block(monotonic=True)
    with torch.no_grad():
        block.gamma.fill_(5.0)  # strong decay
        for layer in (block.query_projection, block.key_projection, block.value_projection):
            layer.weight.copy_(torch.eye(16))
            layer.bias.zero_()
        block.output_projection.weight.copy_(torch.eye(16))
        block.output_projection.bias.zero_()
    # Equal keys (plain attention would be uniform, mean step 4); values are the step number,
    # so the output is the mean step read.
    time = 9
    steps = torch.arange(time, dtype=torch.float32)[None, :, None].expand(1, time, 16)
    ones = torch.ones(1, time, 16)
    mean_step = block.attend(ones, ones, steps, nets.causal_mask(time))[0, -1, 0]
    assert mean_step > (time - 1) / 2 + 1.0
    mean_step.backward()
    assert block.gamma.grad is not None and torch.isfinite(block.gamma.grad).all()
    assert block.gamma.grad.abs().sum() > 0


def test_positions():
    sinusoidal = nets.SinusoidalPositions(6)
    out = sinusoidal(torch.zeros(1, 4, 6))
    assert torch.allclose(out[0, 0], torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]))
    assert torch.allclose(out[0, 3, :2], torch.tensor([math.sin(3.0), math.cos(3.0)]))
    assert nets.SinusoidalPositions(5)(torch.zeros(2, 3, 5)).shape == (2, 3, 5)
    learned = nets.LearnedPositions(3, 4)
    long = learned(torch.zeros(1, 5, 4))
    assert torch.equal(long[0, 4], learned.table.weight[2])  # past the table: the last one
    assert torch.equal(long[0, 1], learned.table.weight[1])
