"""kt.models.streaming: DKT from a log dataset, one process against 2 gloo ranks, kill and resume.

The 2-rank runs go through torchrun exactly as a user starts them (``python -m
torch.distributed.run --standalone --nproc-per-node 2 scripts/train_kt.py ... --distributed``).
Tolerance: with dropout 0 the two runs compute the same global batches; only the order of
float32 sums differs (the all-reduce adds the ranks' halves), so losses agree to 1e-6 relative
and weights to 1e-4 absolute after every update; measured: losses to 1e-8, AUCs bit-identical.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

from riley_gym.kt.data.log_dataset import iter_student_shards
from riley_gym.kt.experiments.synthetic_log import SyntheticLogConfig, write_synthetic_log
from riley_gym.kt.models.dkt import DKT, DKTConfig
from riley_gym.kt.models.streaming import StreamConfig, fit_dkt_streaming
from riley_gym.kt.models.training import TrainingConfig
from tests.helpers.scripts import ROOT

# 193 training students per shard and 20-row students (one window each): 193 = 6 * 32 + 1,
# so each shard's last global batch has one window and rank 1 takes part with a zero loss.
FLAGS = [
    "--hidden-size", "24", "--embedding-size", "24", "--batch-size", "32", "--dropout", "0",
    "--max-epochs", "3", "--patience", "5", "--students-per-shard", "193",
    "--checkpoint-every", "1", "--threads", "1", "--no-progress", "--seed", "3",
]  # fmt: skip


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    folder = tmp_path_factory.mktemp("log") / "log"
    config = SyntheticLogConfig(n_interactions=60_000, episode_length=20, chunk_students=500)
    write_synthetic_log(config, folder)
    return folder


def train_kt(log, out, *extra, ranks=1, wait=True):
    command = [sys.executable, str(ROOT / "scripts" / "train_kt.py"), "--data", str(log)]
    if ranks > 1:
        command = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={ranks}", *command[1:], "--distributed",
        ]  # fmt: skip
    command += ["--out", str(out), *FLAGS, *extra]
    if not wait:
        return subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "summary.json").read_text())


def weights(out):
    return DKT.load(out / "model").network.state_dict()


@pytest.fixture(scope="module")
def two_ranks(log, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "two"
    return out, train_kt(log, out, ranks=2)


def test_two_gloo_ranks_match_one_process_with_the_same_global_batch(log, two_ranks, tmp_path):
    out_two, two = two_ranks
    one = train_kt(log, tmp_path / "one")
    assert two["world_size"] == 2 and two["backend"] == "gloo"
    assert one["world_size"] == 1 and one["backend"] is None
    assert len(two["peak_rss_mb_per_rank"]) == 2
    history_one = pd.read_csv(tmp_path / "one" / "history.csv")
    history_two = pd.read_csv(out_two / "history.csv")
    assert len(history_one) == 3 and history_one.steps.tolist() == history_two.steps.tolist()
    np.testing.assert_allclose(history_two.train_loss, history_one.train_loss, rtol=1e-6)
    np.testing.assert_allclose(history_two.valid_auc, history_one.valid_auc, atol=1e-6)
    assert two["test_n_rows"] == one["test_n_rows"] > 0
    assert abs(two["test_auc"] - one["test_auc"]) < 1e-6
    for name, value in weights(tmp_path / "one").items():
        torch.testing.assert_close(weights(out_two)[name], value, atol=1e-4, rtol=0)
    # The run learned something: the check above is not two untrained networks.
    assert history_one.valid_auc.iloc[-1] > history_one.valid_auc.iloc[0]


def test_a_killed_two_rank_run_resumes_to_the_uninterrupted_result(log, two_ranks, tmp_path):
    out_two, two = two_ranks
    out = tmp_path / "killed"
    process = train_kt(log, out, ranks=2, wait=False)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists() and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # every rank and torchrun itself
    process.wait()
    assert not (out / "summary.json").exists(), "the run ended before it was killed"
    resumed = train_kt(log, out, "--resume", ranks=2)
    assert resumed["resumed_from"] is not None
    assert resumed["resumed_from"] != [1, 0]  # it did not start again from the beginning
    assert resumed["steps"] == two["steps"]
    assert resumed["test_auc"] == pytest.approx(two["test_auc"], abs=1e-6)
    for name, value in weights(out_two).items():
        torch.testing.assert_close(weights(out)[name], value, atol=1e-5, rtol=0)


class Interrupted(Exception):
    pass


def test_in_process_resume_with_dropout_is_bit_identical_and_settings_are_checked(log, tmp_path):
    config = DKTConfig(
        hidden_size=8, embedding_size=8, batch_size=16, dropout=0.3,
        training=TrainingConfig(max_epochs=2, seed=1),
    )  # fmt: skip
    stream = StreamConfig(students_per_shard=300, checkpoint_every=1)
    whole = fit_dkt_streaming(log, config, stream, checkpoint_path=tmp_path / "whole.pt")
    shards_read = []

    def interrupt(rows):
        shards_read.append(rows)
        if len(shards_read) == 4:  # 7 shards an epoch: killed in shard 4, before its checkpoint
            raise Interrupted

    with pytest.raises(Interrupted):
        fit_dkt_streaming(log, config, stream, checkpoint_path=tmp_path / "cut.pt",
                          progress=interrupt)  # fmt: skip
    resumed = fit_dkt_streaming(log, config, stream, checkpoint_path=tmp_path / "cut.pt",
                                resume=True)  # fmt: skip
    assert resumed.resumed_from == (1, 3)  # epoch 1, after shards 0, 1 and 2
    assert resumed.steps == whole.steps == whole.history.epochs[-1]["steps"]
    assert resumed.history.epochs == [
        {**epoch, **{key: resumed.history.epochs[i][key] for key in epoch if "second" in key}}
        for i, epoch in enumerate(whole.history.epochs)
    ]  # every figure but the timings
    for name, value in whole.model.network.state_dict().items():
        assert torch.equal(resumed.model.network.state_dict()[name], value), name
    other = StreamConfig(students_per_shard=301, checkpoint_every=1)
    with pytest.raises(ValueError, match="students_per_shard"):
        fit_dkt_streaming(log, config, other, checkpoint_path=tmp_path / "cut.pt", resume=True)


def test_memory_holds_one_shard_not_the_log(log):
    rows = [len(shard) for shard in iter_student_shards(log, 100, fold="train")]
    assert max(rows) == 100 * 20 and sum(rows) > 10 * max(rows)
