"""nets: shapes, padding masks, gradient flow, heads, safe checkpoints and device choice."""

import copy
import os
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from riley_gym import nets


def test_mlp_shapes_and_validation():
    mlp = nets.MLP(5, (16, 8), 3, activation="tanh", dropout=0.1)
    assert mlp(torch.zeros(7, 5)).shape == (7, 3)
    assert mlp(torch.zeros(2, 4, 5)).shape == (2, 4, 3)
    torso = nets.MLP(5, (16,))
    assert torso.out_features == 16 and torso(torch.zeros(1, 5)).shape == (1, 16)
    with pytest.raises(ValueError, match="activation"):
        nets.MLP(5, (4,), 1, activation="swishy")
    with pytest.raises(ValueError, match="dropout"):
        nets.MLP(5, (4,), 1, dropout=1.0)
    with pytest.raises(ValueError, match="hidden_sizes"):
        nets.MLP(5, (0,), 1)


def test_logistic_regression_sized_mlp_fits_linearly_separable_set():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(400, 2, generator=generator)
    y = (x[:, 0] - 2 * x[:, 1] > 0.1).float()
    model = nets.MLP(2, (), 1)  # one linear layer: logistic regression
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(300):
        optimizer.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(-1), y)
        loss.backward()
        optimizer.step()
    accuracy = ((model(x).squeeze(-1) > 0).float() == y).float().mean().item()
    assert accuracy >= 0.98


def test_nature_cnn_takes_uint8_and_scales_inside():
    torch.manual_seed(0)
    cnn = nets.NatureCNN()
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    out = cnn(frames)
    assert out.shape == (3, 512)
    assert torch.allclose(out, cnn(frames.float()))  # uint8 and float in [0, 255] agree
    assert (
        nets.count_parameters(cnn) == 1_684_128
    )  # the Nature-DQN torso: 3 convs + 3136x512 linear


def test_nature_cnn_channels_last_gives_the_same_features_and_gradients():
    torch.manual_seed(1)
    plain = nets.NatureCNN()
    fast = copy.deepcopy(plain).to(memory_format=torch.channels_last)
    frames = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    out_plain, out_fast = plain(frames), fast(frames)
    torch.testing.assert_close(out_fast, out_plain, rtol=1e-4, atol=1e-5)
    out_plain.square().sum().backward()
    out_fast.square().sum().backward()
    for a, b in zip(plain.parameters(), fast.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_sequence_encoder_masks_padding_and_matches_unpadded_runs(cell):
    torch.manual_seed(0)
    encoder = nets.SequenceEncoder(3, 6, cell=cell)
    x = torch.randn(2, 5, 3)
    lengths = torch.tensor([5, 2])
    x_garbage = x.clone()
    x_garbage[1, 2:] = 100.0  # padding content must not matter
    outputs, _ = encoder(x_garbage, lengths)
    assert outputs.shape == (2, 5, 6)
    assert torch.all(outputs[1, 2:] == 0)
    alone, _ = encoder(x[1:, :2])
    assert torch.allclose(outputs[1, :2], alone[0], atol=1e-6)


def test_sequence_encoder_state_continues_a_sequence():
    torch.manual_seed(0)
    encoder = nets.SequenceEncoder(2, 4, cell="lstm")
    x = torch.randn(1, 6, 2)
    whole, _ = encoder(x)
    first, state = encoder(x[:, :4])
    second, _ = encoder(x[:, 4:], state=state)
    assert torch.allclose(torch.cat([first, second], dim=1), whole, atol=1e-6)


def test_sequence_encoder_rejects_bad_input():
    encoder = nets.SequenceEncoder(2, 4)
    with pytest.raises(ValueError, match="cell"):
        nets.SequenceEncoder(2, 4, cell="transformer")
    with pytest.raises(ValueError, match="lengths"):
        encoder(torch.zeros(2, 3, 2), torch.tensor([3, 4]))
    with pytest.raises(ValueError, match="batch, time, features"):
        encoder(torch.zeros(3, 2))


def test_lstm_learns_a_toy_sequence_task():
    # Predict at every step whether an odd number of ones has been seen so far
    # (parity): needs memory.
    generator = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    x = torch.randint(0, 2, (256, 8, 1), generator=generator).float()
    y = torch.cumsum(x, dim=1).remainder(2)
    encoder = nets.SequenceEncoder(1, 32, cell="lstm")
    head = nets.SigmoidHead(32, 1)
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=0.02)
    for _ in range(250):
        optimizer.zero_grad()
        outputs, _ = encoder(x)
        loss = nn.functional.binary_cross_entropy_with_logits(head(outputs), y)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = ((head.probabilities(encoder(x)[0]) > 0.5).float() == y).float().mean().item()
    assert accuracy >= 0.95


def test_heads():
    features = torch.randn(4, 8)
    assert nets.SigmoidHead(8, 5).probabilities(features).shape == (4, 5)
    probs = nets.SoftmaxHead(8, 3).probabilities(features)
    assert torch.allclose(probs.sum(-1), torch.ones(4))
    plain = nets.QHead(8, 6)
    assert plain(features).shape == (4, 6)


def test_dueling_head_combines_value_and_mean_centred_advantage():
    head = nets.QHead(3, 4, dueling=True)
    features = torch.randn(5, 3)
    q = head(features)
    value = head.value(features)
    advantage = head.advantage(features)
    assert torch.allclose(q, value + advantage - advantage.mean(-1, keepdim=True))
    assert torch.allclose(q.mean(-1, keepdim=True), value, atol=1e-6)


def test_checkpoint_round_trip(tmp_path):
    model = nets.MLP(3, (4,), 2)
    rng = np.random.default_rng(0)
    payload = {
        "model": model.state_dict(),
        "step": 17,
        "numpy_rng": rng.bit_generator.state,
        "array": np.arange(5, dtype=np.int32),
        "read_only": np.broadcast_to(np.float32(2.0), (3,)),
        "torch_rng": torch.Generator().manual_seed(3).get_state(),
    }
    path = nets.save_checkpoint(tmp_path / "sub" / "ckpt.pt", payload, {"lr": 0.001, "sizes": [4]})
    loaded, config = nets.load_checkpoint(path)
    assert config == {"lr": 0.001, "sizes": [4]}
    assert loaded["step"] == 17
    assert torch.equal(loaded["array"], torch.arange(5, dtype=torch.int32))
    assert torch.equal(loaded["read_only"], torch.full((3,), 2.0))
    restored = np.random.default_rng()
    restored.bit_generator.state = loaded["numpy_rng"]
    assert restored.random() == rng.random()
    clone = nets.MLP(3, (4,), 2)
    clone.load_state_dict(loaded["model"])
    x = torch.randn(2, 3)
    assert torch.equal(clone(x), model(x))
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]  # no temporary file left behind


class _Exploit:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_crafted_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "exploit-ran"
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as file:
        pickle.dump({"format": "riley-gym-checkpoint", "payload": _Exploit(marker)}, file)
    with pytest.raises(nets.CheckpointError, match="not a riley-gym checkpoint") as error:
        nets.load_checkpoint(evil)
    assert not marker.exists()
    assert "weights_only" not in str(error.value)  # never invite the unsafe loader
    torch_file = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, torch_file)
    with pytest.raises(nets.CheckpointError, match="marker"):
        nets.load_checkpoint(torch_file)
    with pytest.raises(FileNotFoundError):
        nets.load_checkpoint(tmp_path / "missing.pt")


def test_save_refuses_objects_and_non_json_config(tmp_path):
    with pytest.raises(TypeError, match="payload.bad"):
        nets.save_checkpoint(tmp_path / "a.pt", {"bad": object()})
    with pytest.raises(TypeError, match="JSON"):
        nets.save_checkpoint(tmp_path / "b.pt", {}, {"x": object()})


def test_device_selection_and_free_cores():
    assert nets.select_device("cpu") == torch.device("cpu")
    assert nets.select_device("auto").type in {"cpu", "cuda"}
    with pytest.raises(ValueError, match="device must be"):
        nets.select_device("tpu")
    assert 1 <= nets.free_cores() <= (os.cpu_count() or 1)


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="this machine has a GPU, so asking for cuda is valid"
)
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA"):
        nets.select_device("cuda")
