"""One torch thread for every test, and the ``device`` fixture.

The suite's networks are tiny, so extra threads buy nothing, and on 2 cores shared with
other work two threads were measured up to 8x slower (a 3 s LSTM test took 106 s).

A test that takes ``device`` runs once on the CPU and, where torch sees a GPU, once more on
it: the same assertions then cover the ``--device cuda`` paths, and machines without a GPU
(CI) report the CUDA case as skipped with its reason.
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(
    params=[
        "cpu",
        pytest.param(
            "cuda",
            marks=pytest.mark.skipif(
                not torch.cuda.is_available(),
                reason="needs a CUDA GPU: torch.cuda.is_available() is False here",
            ),
        ),
    ]
)
def device(request):
    return request.param
