"""Run this folder's tests single-threaded (restored afterwards).

The models here are tiny, so intra-op threads gain nothing; on a shared 2-core machine,
OpenMP threads waiting at barriers for descheduled peers made these tests about 10x slower
(8.5 min instead of under a minute, measured).  Scoped per module so the module-scoped
training fixtures run under the limit too.
"""
import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(scope="module", autouse=True)
def single_threaded():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(before)
