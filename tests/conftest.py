"""One torch thread for every test.

The suite's networks are tiny, so extra threads buy nothing, and on 2 cores shared with
other work two threads were measured up to 8x slower (a 3 s LSTM test took 106 s).
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
