"""common.syncs: what the host-sync counter counts (and what it must not), per op and per training step."""
import pytest
import torch

from common.engine import EngineConfig, Trainer, classification_step
from common.runctx import RunContext
from common.syncs import SyncCounter, count_training_syncs

X = torch.randn(6, 3)


@pytest.mark.parametrize("name, sync", [
    ("item", lambda: X[0, 0].item()),
    ("bool", lambda: bool(X[0, 0] > 0)),
    ("float", lambda: float(X.sum())),
    ("nonzero", lambda: (X > 0).nonzero()),
    ("argwhere", lambda: torch.argwhere(X > 0)),
    ("mask index", lambda: X[X > 0]),
    ("mask assignment", lambda: X.clone().__setitem__(X > 0, 0.0)),
    ("masked_select", lambda: X.masked_select(X > 0)),
    ("unique", lambda: X.unique()),
    ("equal", lambda: torch.equal(X, X)),
    ("allclose", lambda: torch.allclose(X, X)),
    ("linalg.inv", lambda: torch.linalg.inv(torch.eye(3))),
    ("repeat_interleave by tensor", lambda: torch.arange(3).repeat_interleave(torch.ones(3, dtype=torch.long))),
    ("cpu", lambda: X.cpu()),
    ("tolist", lambda: X.tolist()),
    ("numpy", lambda: X.numpy()),
    ("blocking to(device)", lambda: X.to("cpu")),
    ("blocking to(device, dtype)", lambda: X.to(torch.device("cpu"), torch.float64)),
    ("tensor from data on a device", lambda: torch.tensor([1.0, 2.0], device="cpu")),
    ("as_tensor from data on a device", lambda: torch.as_tensor((0.5,), device=X.device)),
])
def test_each_syncing_operation_counts_once(name, sync):
    with SyncCounter() as counter:
        sync()
    assert counter.total == 1, (name, dict(counter.counts))


@pytest.mark.parametrize("name, work", [
    ("arithmetic and reductions", lambda: (X * 2 + 1).sum().sqrt()),
    ("where and masked_fill", lambda: torch.where(X > 0, X, 0.0).masked_fill(X < -1, 0.0)),
    ("integer gather", lambda: X[torch.arange(3)]),
    ("non-blocking move", lambda: X.to("cpu", non_blocking=True)),
    ("dtype conversion", lambda: X.to(torch.float64)),
    ("host tensor from data", lambda: torch.tensor([1, 2, 3])),
    ("fill on the device", lambda: torch.full((), 0.5, device=X.device)),
    ("repeat_interleave by an int", lambda: torch.arange(3).repeat_interleave(2)),
])
def test_device_side_work_counts_nothing(name, work):
    with SyncCounter() as counter:
        work()
    assert counter.total == 0, (name, dict(counter.counts))


def test_pause_and_the_patches_are_undone():
    to, cpu = torch.Tensor.to, torch.Tensor.cpu
    with SyncCounter() as counter:
        counter.pause()
        X[0, 0].item()
        counter.resume()
        X[1, 0].item()
    assert counter.total == 1 and torch.Tensor.to is to and torch.Tensor.cpu is cpu
    assert "test_syncs.py" in next(iter(counter.where))[1]  # names the line that synced


def _trainer(step_fn, optimizer="sgd", print_freq=4):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(model.parameters(), lr=0.1)
    data = torch.utils.data.TensorDataset(torch.randn(40, 3, 2, 2), torch.randint(0, 3, (40,)))
    from common.data import make_loader

    return Trainer(model, opt, make_loader(data, 5, train=True), None, ctx=RunContext.local("cpu"),
                   cfg=EngineConfig(epochs=1, clip_grad=1.0, print_freq=print_freq, quiet=True, topk=(1,)),
                   step_fn=step_fn)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_engine_step_makes_no_sync_but_logging_steps_may(optimizer):
    """Clipping, meters, scheduler and (Adam's host-side step counters aside) the optimizer: 0 per step."""
    with count_training_syncs() as steps:
        _trainer(classification_step, optimizer).fit()
    assert [s.step for s in steps] == list(range(1, 9))
    assert all(s.total == 0 for s in steps if not s.logging), [dict(s.counts) for s in steps]
    assert [s.step for s in steps if s.logging] == [4, 8]


def test_a_step_that_reads_its_loss_is_caught():
    def chatty_step(model, batch):
        out = classification_step(model, batch)
        if out.loss > 10:  # a Python branch on a tensor: the host waits for the value
            raise AssertionError
        return out

    with count_training_syncs() as steps:
        _trainer(chatty_step, print_freq=100).fit()
    assert [s.total for s in steps] == [1] * 8 and all("bool() of a tensor" in str(s.counts) or
                                                       "item()" in str(s.counts) for s in steps)


def test_fp16_grad_scaler_is_the_one_documented_sync():
    """fp16 (GPUs without bf16) needs a GradScaler, which reads whether the gradients overflowed before it
    steps: one sync per step, by PyTorch's design (README: the documented exception). bf16/fp32: none."""
    from common.device import Precision

    trainer = _trainer(classification_step, print_freq=100)
    trainer.precision = Precision(torch.device("cpu"), torch.float16)
    trainer.scaler = trainer.precision.make_scaler()
    with count_training_syncs() as steps:
        trainer.fit()
    assert trainer.scaler.is_enabled()
    assert [s.total for s in steps] == [1] * 8
