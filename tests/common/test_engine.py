"""Engine guarantees: exact resume, graceful stop, divergence handling, run-dir safety."""
import os
import signal

import pytest
import torch
from torch.utils.data import Subset

from common.runctx import RunContext
from common.data import make_loader
from common.embedded.digits import DigitsMNIST
from common.engine import EngineConfig, StepResult, StopRequested, Trainer, classification_step
from common.errors import UserError
from common.rundir import RunDir
from common.train_digits import SmallCNN

DEVICE = torch.device("cpu")


def noisy_step(model, batch):
    """Classification with input noise: training consumes the global RNG, so resume must restore it."""
    x, y = batch
    return classification_step(model, (x + 0.1 * torch.randn_like(x), y))


def make_trainer(run_path, epochs=3, step_fn=noisy_step, lr=0.05, seed=0):
    torch.manual_seed(seed)
    train = Subset(DigitsMNIST("train"), range(300))
    val = Subset(DigitsMNIST("val"), range(100))
    model = SmallCNN(width=8)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    cfg = EngineConfig(epochs=epochs, warmup_epochs=1, clip_grad=1.0, print_freq=5, quiet=True)
    run = RunDir(run_path, resuming=True)
    return Trainer(model, opt, make_loader(train, 32, train=True, seed=seed), make_loader(val, 50, train=False),
                   ctx=RunContext.local(DEVICE, run), cfg=cfg, step_fn=step_fn, eval_step_fn=classification_step,
                   arch="smallcnn")


def weights(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.module.parameters()])


def test_resume_after_epoch_matches_uninterrupted(tmp_path):
    full = make_trainer(tmp_path / "full")
    full.fit()
    part = make_trainer(tmp_path / "part")
    part.fit(stop_epoch=1)
    resumed = make_trainer(tmp_path / "part")
    torch.manual_seed(123)  # disturb the global RNG: resume must restore it
    resumed.resume(tmp_path / "part" / "models" / "checkpoint.pth.tar")
    assert resumed.start_epoch == 1 and resumed.start_step == 0
    resumed.fit()
    assert torch.equal(weights(full), weights(resumed))
    assert full.history[-1]["val_loss"] == resumed.history[-1]["val_loss"]
    assert len(resumed.history) == 3


def self_kill_at(step_to_kill, step_fn=noisy_step):
    """A step function that sends SIGTERM to this process during its k-th call."""
    calls = {"n": 0}

    def step(model, batch):
        calls["n"] += 1
        if calls["n"] == step_to_kill:
            os.kill(os.getpid(), signal.SIGTERM)
        return step_fn(model, batch)

    return step


def test_sigterm_mid_epoch_saves_and_resumes_exactly(tmp_path):
    full = make_trainer(tmp_path / "full")
    full.fit()
    # 10 training steps per epoch, so call 13 is epoch 1, step 3.
    killed = make_trainer(tmp_path / "killed", step_fn=self_kill_at(13))
    with pytest.raises(StopRequested) as stop:
        killed.fit()
    assert stop.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored
    ckpt = torch.load(tmp_path / "killed" / "models" / "checkpoint.pth.tar", weights_only=True)
    assert (ckpt["epoch"], ckpt["step"]) == (1, 3)
    resumed = make_trainer(tmp_path / "killed")
    torch.manual_seed(321)
    resumed.resume(tmp_path / "killed" / "models" / "checkpoint.pth.tar")
    resumed.fit()
    assert torch.equal(weights(full), weights(resumed))
    assert full.history[-1]["train_loss"] == pytest.approx(resumed.history[-1]["train_loss"], rel=1e-12)


def test_nonfinite_loss_stops_and_keeps_best(tmp_path):
    trainer = make_trainer(tmp_path / "run", epochs=3)
    trainer.fit(stop_epoch=1)
    best = tmp_path / "run" / "models" / "model_best.pth.tar"
    before = best.read_bytes()

    def nan_step(model, batch):
        out = classification_step(model, batch)
        return StepResult(out.loss * float("nan"), out.logits, out.targets)

    trainer.step_fn = nan_step
    with pytest.raises(UserError, match="non-finite training loss"):
        trainer.fit()
    assert best.read_bytes() == before
    assert torch.load(tmp_path / "run" / "models" / "checkpoint.pth.tar", weights_only=True)["epoch"] == 1


def test_run_dir_refuses_to_overwrite_a_finished_run(tmp_path):
    run = RunDir(tmp_path / "r")
    run.write_metrics({"acc": 1.0})
    with pytest.raises(UserError, match="already holds a run"):
        RunDir(tmp_path / "r")
    assert RunDir(tmp_path / "r", resuming=True).path == tmp_path / "r"


def test_meters_match_a_direct_computation(tmp_path):
    trainer = make_trainer(tmp_path / "m", epochs=1)
    val = trainer.val_loader
    stats = trainer.evaluate(val)
    logits = torch.cat([trainer.module(x) for x, _ in val])
    labels = torch.cat([y for _, y in val])
    assert stats["acc1"] == pytest.approx(100 * (logits.argmax(1) == labels).float().mean().item())
    top5 = logits.topk(5, 1).indices.eq(labels[:, None]).any(1).float().mean().item()
    assert stats["acc5"] == pytest.approx(100 * top5)
    assert stats["loss"] == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-5)


def test_resuming_keeps_the_original_config(tmp_path):
    run = RunDir(tmp_path / "r")
    run.write_config({"lr": 0.1})
    original = (tmp_path / "r" / "config.json").read_text()
    RunDir(tmp_path / "r", resuming=True).write_config({"lr": 0.1, "resume": "x"})
    assert (tmp_path / "r" / "config.json").read_text() == original
    assert len(list((tmp_path / "r").glob("config_resume_*.json"))) == 1


class NanGrad(torch.autograd.Function):
    """Contributes 0 to the loss but a NaN gradient: the loss stays finite, the weights do not."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.sum() * 0

    @staticmethod
    def backward(ctx, grad):
        return torch.full(ctx.shape, float("nan"))


def nan_grad_at(call):
    calls = {"n": 0}

    def step(model, batch):
        calls["n"] += 1
        out = classification_step(model, batch)
        if calls["n"] == call:
            out.loss = out.loss + NanGrad.apply(next(model.parameters()))
        return out

    return step


def test_nan_weights_from_the_last_step_of_an_epoch_are_never_saved(tmp_path):
    trainer = make_trainer(tmp_path / "run", epochs=3, step_fn=nan_grad_at(20))  # epoch 2's last step
    ckpt = tmp_path / "run" / "models" / "checkpoint.pth.tar"
    with pytest.raises(UserError, match="non-finite model weights at the end of epoch 2") as err:
        trainer.fit()
    assert str(ckpt) in str(err.value)
    saved = torch.load(ckpt, weights_only=True)
    assert saved["epoch"] == 1 and all(torch.isfinite(t).all() for t in saved["state_dict"].values())


def test_nan_validation_loss_in_epoch_0_names_no_checkpoint(tmp_path):
    def nan_eval(model, batch):
        out = classification_step(model, batch)
        return StepResult(out.loss * float("nan"), out.logits, out.targets)

    trainer = make_trainer(tmp_path / "run", epochs=2)
    trainer.eval_step_fn = nan_eval
    with pytest.raises(UserError, match="non-finite val_loss at the end of epoch 1.*no checkpoint was saved"):
        trainer.fit()
    assert not (tmp_path / "run" / "models" / "checkpoint.pth.tar").exists()


class NoisyDigits(torch.utils.data.Dataset):
    """Random augmentation inside the dataset: with workers it consumes the *worker's* RNG."""

    def __init__(self):
        self.base = Subset(DigitsMNIST("train"), range(300))

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x, y = self.base[i]
        return x + 0.1 * torch.randn_like(x), y


def worker_trainer(run_path, step_fn=classification_step):
    torch.manual_seed(0)
    model = SmallCNN(width=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    cfg = EngineConfig(epochs=2, warmup_epochs=1, clip_grad=1.0, print_freq=5, quiet=True)
    return Trainer(model, opt, make_loader(NoisyDigits(), 32, train=True, seed=0, workers=2), None,
                   ctx=RunContext.local(DEVICE, RunDir(run_path, resuming=True)), cfg=cfg, step_fn=step_fn,
                   arch="smallcnn")


def test_mid_epoch_resume_with_two_workers_is_bit_exact(tmp_path):
    full = worker_trainer(tmp_path / "full")
    full.fit()

    killed = worker_trainer(tmp_path / "killed", step_fn=self_kill_at(7, classification_step))
    with pytest.raises(StopRequested):
        killed.fit()
    ckpt = tmp_path / "killed" / "models" / "checkpoint.pth.tar"
    assert torch.load(ckpt, weights_only=True)["step"] == 7  # mid-epoch: workers restart at batch 7
    resumed = worker_trainer(tmp_path / "killed")
    resumed.resume(ckpt)
    resumed.fit()
    assert torch.equal(weights(full), weights(resumed))
