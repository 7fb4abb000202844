"""Run this folder's tests single-threaded.

Its tensors are tiny: with two intra-op threads on a loaded 2-core machine every op waits
at an OpenMP barrier, and a test that needs 0.3 s took 18 s.  The previous thread count
is restored after each test, so other folders' tests are unaffected.
"""
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
