"""miniplaces.report.ProfiledStep: per-iteration time without making the host wait for the GPU.

The CUDA branch runs here with a stand-in for ``torch.cuda.Event`` (no GPU needed): it must record
one event per step, never synchronise during training, and read the times once at the end.
Before, it called ``torch.cuda.synchronize`` at every step: a host sync per step on every GPU run.
"""
import torch

from common.engine import StepResult
from miniplaces.report import ProfiledStep


class FakeEvent:
    """Records when it was 'reached' (a counter standing in for the GPU clock), like a CUDA event."""

    clock = 0.0
    synchronized = 0

    def __init__(self, enable_timing=False):
        assert enable_timing
        self.at = None

    def record(self):
        FakeEvent.clock += 0.25  # each step takes 250 ms of "GPU time"
        self.at = FakeEvent.clock

    def synchronize(self):
        FakeEvent.synchronized += 1

    def elapsed_time(self, later):
        return (later.at - self.at) * 1000.0  # milliseconds, as CUDA reports


def step(model, batch):
    return StepResult(model(batch).sum())


def test_cuda_branch_records_events_and_never_synchronises_per_step(monkeypatch):
    syncs = []
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a, **k: syncs.append(1))
    profile = ProfiledStep(step, torch.device("cuda"))
    model, batch = torch.nn.Linear(3, 1), torch.randn(4, 3)
    for _ in range(5):
        profile(model, batch)
    assert len(profile.stamps) == 5 and not syncs and FakeEvent.synchronized == 0
    assert profile.saved_bytes and profile.seconds_per_iter() == 0.25
    assert FakeEvent.synchronized == 1  # once, when the figure is read after training


def test_cpu_branch_times_with_the_clock():
    profile = ProfiledStep(step, torch.device("cpu"))
    model, batch = torch.nn.Linear(3, 1), torch.randn(4, 3)
    for _ in range(3):
        profile(model, batch)
    assert profile.seconds_per_iter() > 0 and profile.saved_bytes == 4 * 3 * 4  # Linear saves its input
