"""The engine's seams: an injectable LR schedule recorded in checkpoints, explicit resume intent,
and no import from the engine into the command-line layer."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from common.cli import run_context
from common.engine import EngineConfig, Trainer, classification_step
from common.errors import UserError
from common.rundir import RunDir
from common.runctx import RunContext, require_checkpoint
from common.schedule import WARMUP_CONSTANT, WARMUP_COSINE, Schedule, from_function, warmup_cosine_factor

REPO = Path(__file__).resolve().parents[2]


def batches(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 3, generator=g), torch.randint(0, 2, (8,), generator=g)) for _ in range(n)]


def trainer(tmp_path, schedule=WARMUP_COSINE, epochs=3, warmup=1.0, lr=0.1):
    """A linear model on 4 batches per epoch; ``t.seen_lrs`` collects the LR of every training step."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    seen = []

    def recording_step(model, batch):  # runs just before the optimizer step that uses this LR
        seen.append(optimizer.param_groups[0]["lr"])
        return classification_step(model, batch)

    cfg = EngineConfig(epochs=epochs, warmup_epochs=warmup, quiet=True, topk=(1,), schedule=schedule)
    t = Trainer(model, optimizer, batches(), batches(2, seed=1), cfg=cfg, step_fn=recording_step,
                eval_step_fn=classification_step, ctx=RunContext.local("cpu", RunDir(tmp_path, resuming=True)),
                arch="linear")
    t.seen_lrs = seen
    return t


def lrs(t: Trainer) -> list[float]:
    t.fit()
    return t.seen_lrs


def test_default_schedule_is_warmup_cosine_and_is_recorded(tmp_path):
    t = trainer(tmp_path)
    seen = lrs(t)
    expected = [0.1 * warmup_cosine_factor(s, 4, 12) for s in range(12)]
    assert seen == pytest.approx(expected, rel=1e-12, abs=1e-15)
    ckpt = torch.load(tmp_path / "models" / "checkpoint.pth.tar", weights_only=True)
    assert ckpt["schedule"]["name"] == "warmup_cosine" and ckpt["schedule"]["params"] == {}
    assert ckpt["schedule"]["steps_per_epoch"] == 4 and ckpt["schedule"]["base_lrs"] == [0.1]


def test_constant_is_just_another_schedule(tmp_path):
    seen = lrs(trainer(tmp_path, WARMUP_CONSTANT, warmup=0.5))
    assert seen == pytest.approx([0.05, 0.1] + [0.1] * 10)


def test_an_injected_function_drives_the_lr_and_its_name_and_parameters_are_recorded(tmp_path):
    halving = from_function("halving", lambda step: 0.5 ** (step // 4), every=4)
    seen = lrs(trainer(tmp_path, halving))
    assert seen == pytest.approx([0.1] * 4 + [0.05] * 4 + [0.025] * 4)
    ckpt = torch.load(tmp_path / "models" / "checkpoint.pth.tar", weights_only=True)
    assert ckpt["schedule"]["name"] == "halving" and ckpt["schedule"]["params"] == {"every": 4}
    factory = Schedule("linear_decay", lambda warmup, total: lambda step: 1 - step / total)
    assert lrs(trainer(tmp_path / "linear", factory)) == pytest.approx([0.1 * (1 - s / 12) for s in range(12)])


def test_without_warmup_the_first_step_runs_at_the_peak_lr():
    """ANSWERS.md section 0: the course's scheduler would stay at ~0 with --warmup 0; ours starts at the peak."""
    assert warmup_cosine_factor(0, 0, 100) == 1.0 and warmup_cosine_factor(50, 0, 100) == pytest.approx(0.5)


def test_resume_refuses_a_changed_schedule_or_lr_and_warns_on_more_epochs(tmp_path, capsys):
    t = trainer(tmp_path / "run", epochs=1)
    t.fit()
    ckpt = tmp_path / "run" / "models" / "checkpoint.pth.tar"
    with pytest.raises(UserError, match="LR schedule warmup_cosine, this run builds warmup_constant"):
        trainer(tmp_path / "fork", WARMUP_CONSTANT, epochs=2).resume(ckpt)
    trainer(tmp_path / "fork1", epochs=2).resume(ckpt)
    assert "with --epochs 2 instead of 1" in capsys.readouterr().err
    with pytest.raises(UserError, match="peak learning rate"):
        trainer(tmp_path / "fork2", epochs=2, lr=0.2).resume(ckpt)


def test_a_checkpoint_from_before_the_schedule_name_resumes_silently(tmp_path, capsys):
    t = trainer(tmp_path / "run", epochs=1)
    t.fit()
    path = tmp_path / "run" / "models" / "checkpoint.pth.tar"
    ckpt = torch.load(path, weights_only=True)
    for key in ("name", "params"):
        del ckpt["schedule"][key]
    torch.save(ckpt, path)
    trainer(tmp_path / "fork", WARMUP_CONSTANT, epochs=1).resume(path)
    assert "warning" not in capsys.readouterr().err


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_engine_does_not_import_the_command_line_layer():
    assert not {".cli", "common.cli"} & _imports(REPO / "common" / "engine.py")
    probe = "import sys, common.engine; print('common.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr[-2000:]


def test_resume_intent_is_explicit(tmp_path, monkeypatch):
    """run_context(resume=None) reads nothing of args.resume: an evaluation writes a new run directory."""
    import argparse

    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "old" / "models" / "checkpoint.pth.tar"
    args = argparse.Namespace(resume=str(ckpt), device="cpu", seed=0, logdir=None, quiet=True)
    with pytest.raises(UserError, match="checkpoint not found: .*--resume"):
        with run_context(args, "demo"):
            pass
    assert not (tmp_path / "old").exists() and not (tmp_path / "logs").exists()  # checked before anything is made
    with run_context(args, "demo", resume=None) as ctx:
        assert ctx.run.path.parent == Path("logs/demo")
    with pytest.raises(UserError, match="given to --init"):
        require_checkpoint(ckpt, "--init")


def test_resume_past_the_end_of_the_run_is_refused(tmp_path):
    """--epochs below the checkpoint's epoch trained nothing and wrote null/0.0 over metrics.json; the end
    of the same number of epochs still resumes (a script may go on to what follows training)."""
    t = trainer(tmp_path / "run", epochs=2)
    t.fit()
    ckpt = tmp_path / "run" / "models" / "checkpoint.pth.tar"
    with pytest.raises(UserError, match="is at the end of epoch 2, past the end of this run's 1 epochs"):
        trainer(tmp_path / "fork", epochs=1).resume(ckpt)
    done = trainer(tmp_path / "fork2", epochs=2)
    done.resume(ckpt)
    assert done.fit() == t.history
