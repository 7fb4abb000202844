"""Shared pytest configuration: GPU tests skip without CUDA; plots never need a display;
in-process tests run single-threaded; TF32 settings never leak from one test to the next, and
GPU tests compare kernels in full float32 (common/device.py's TF32 policy)."""
import contextlib

import matplotlib
import pytest
import torch
from threadpoolctl import threadpool_limits

matplotlib.use("Agg")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module", autouse=True)
def single_threaded():
    """One intra-op thread per test module (restored afterwards).

    The tests use tiny tensors, where extra threads gain nothing; on a loaded 2-core
    machine OpenMP threads waiting at barriers for descheduled peers made folders of
    tests 10-60x slower (measured: 8.5 min instead of 42 s). Subprocess tests are
    unaffected. Module scope so module-scoped training fixtures run under it too.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def tf32_policy(request):
    """Each test starts from the TF32 settings it found and leaves them so; a GPU test runs inside
    ``exact_fp32()`` (its comparisons of GPU and CPU kernels would otherwise see cuDNN's TF32).
    Training inside a test still follows ``--tf32`` (run_context sets it and restores it)."""
    from common.device import exact_fp32, restore_tf32, tf32_state

    before = tf32_state()
    scope = exact_fp32() if "gpu" in request.keywords else contextlib.nullcontext()
    with scope:
        yield
    restore_tf32(before)


@pytest.fixture
def fabricate_results():
    """``fabricate(folder)``: a small PNG or JSON for every ``results/`` file the folder's ANSWERS.md and
    README.md link, so a hand-in can be built from a copy of the folder without the real results."""
    from PIL import Image

    from common.submission import local_links

    def fabricate(folder):
        results = (folder / "results").resolve()
        results.mkdir(exist_ok=True)
        for doc in ("ANSWERS.md", "README.md"):
            for target in local_links(folder / doc):
                if results in target.parents and not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if target.suffix == ".png":
                        Image.new("RGB", (64, 48), (40, 120, 200)).save(target)
                    else:
                        target.write_text("{}\n")
        return results

    return fabricate
