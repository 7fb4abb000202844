"""The engine's opt-in speed flags on the CPU: --compile, --channels-last, --tf32/--no-tf32.

torch.compile runs here with the ``aot_eager`` backend (dynamo tracing and AOT autograd, no code
generation: ~2 s to compile SmallCNN instead of 15-30 s for inductor on this loaded 2-core machine);
the inductor backend is exercised by ``python scripts/bench.py step --compile`` (see miniplaces/README.md).
"""
import json
import shutil
import subprocess
import sys

import pytest
import torch

from common.data import make_loader
from common.embedded.digits import DigitsMNIST
from common.engine import EngineConfig, Trainer, classification_step
from common.rundir import RunDir
from common.runctx import RunContext
from common.train_digits import SmallCNN
from common.train_digits import main as digits_main

DIGITS = ["--device", "cpu", "--epochs", "1", "--train-size", "96", "-b", "32", "-j", "0"]


def make_trainer(run_path, compile=None, channels_last=False, epochs=2):
    torch.manual_seed(0)
    train = torch.utils.data.Subset(DigitsMNIST("train"), range(96))
    model = SmallCNN(width=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ctx = RunContext.local("cpu", RunDir(run_path, resuming=True), compile=compile, channels_last=channels_last)
    return Trainer(model, opt, make_loader(train, 32, train=True), make_loader(train, 48, train=False), ctx=ctx,
                   cfg=EngineConfig(epochs=epochs, warmup_epochs=0.5, print_freq=2, quiet=True),
                   step_fn=classification_step, arch="smallcnn")


def weights(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.module.parameters()])


def test_compiled_run_resumes_bit_exactly_from_bare_weights(tmp_path):
    full = make_trainer(tmp_path / "full", compile="aot_eager")
    full.fit()
    part = make_trainer(tmp_path / "part", compile="aot_eager")
    part.fit(stop_epoch=1)
    ckpt = torch.load(tmp_path / "part" / "models" / "checkpoint.pth.tar", weights_only=True)
    assert not any(k.startswith("_orig_mod") for k in ckpt["state_dict"])  # the bare module's keys
    assert set(ckpt["state_dict"]) == set(SmallCNN(width=4).state_dict())
    resumed = make_trainer(tmp_path / "part", compile="aot_eager")
    resumed.resume(tmp_path / "part" / "models" / "checkpoint.pth.tar")
    resumed.fit()
    assert type(resumed.model).__name__ == "OptimizedModule" and resumed.module is resumed.model._orig_mod
    assert torch.equal(weights(full), weights(resumed))
    plain = make_trainer(tmp_path / "plain")  # and an uncompiled trainer reads the compiled run's checkpoint
    plain.resume(tmp_path / "part" / "models" / "checkpoint.pth.tar")
    assert plain.start_epoch == 2 and torch.equal(weights(plain), weights(full))


def test_compile_flag_logs_its_time_and_is_recorded(tmp_path, capsys):
    digits_main([*DIGITS, "--compile", "aot_eager", "--logdir", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert "torch.compile (aot_eager): the first training step took" in out
    assert "torch.compile (aot_eager): the first evaluation batch took" in out
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["args"]["compile"] == "aot_eager" and config["args"]["channels_last"] is False
    assert config["args"]["tf32"] is True and config["tf32"] is False  # the flag, and what it did on a CPU


def test_channels_last_on_the_cpu(tmp_path):
    trainer = make_trainer(tmp_path / "r", channels_last=True, epochs=1)
    assert trainer.channels_last
    conv = trainer.module.features[3].weight  # (8, 4, 3, 3): the layouts differ (the first conv has 1 channel)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    history = trainer.fit()
    assert history[-1]["train_loss"] > 0
    hint_only = make_trainer(tmp_path / "h", epochs=1)  # EngineConfig(channels_last=True) stays a CUDA-only hint
    assert not hint_only.channels_last


def run_cli(module, *argv, tmp_path):
    return subprocess.run([sys.executable, "-m", module, *argv, "--logdir", str(tmp_path / "bad")],
                          capture_output=True, text=True, timeout=120)


def test_channels_last_with_a_model_without_convolutions_is_one_error_line(tmp_path):
    out = run_cli("alexnet_rnn.rnn_lm", "--dry-run", "--max-chars", "2000", "--device", "cpu", "--channels-last",
                  tmp_path=tmp_path)
    assert out.returncode == 2 and out.stderr.startswith("error: --channels-last") and out.stderr.count("\n") == 1
    assert "RNNLM has no nn.Conv2d" in out.stderr


def test_compile_without_torch_compile_or_a_compiler_is_one_error_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delattr(torch, "compile")
    with pytest.raises(SystemExit) as err:
        digits_main([*DIGITS, "--compile", "--logdir", str(tmp_path / "a")])
    monkeypatch.undo()
    assert err.value.code == 2 and "has no torch.compile" in capsys.readouterr().err
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no g++/clang++/c++: inductor cannot build
    with pytest.raises(SystemExit) as err:
        digits_main([*DIGITS, "--compile", "inductor", "--logdir", str(tmp_path / "b")])
    error = capsys.readouterr().err
    assert err.value.code == 2 and error.startswith("error: --compile (inductor) needs a C++ compiler")
    assert error.count("\n") == 1 and not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(SystemExit) as err:  # a backend we do not offer: argparse's one line
        digits_main([*DIGITS, "--compile", "tvm"])
    assert err.value.code == 2


def test_tf32_setting_is_restored_after_a_run(tmp_path):
    from common.device import tf32_state

    before = tf32_state()
    torch.backends.cudnn.allow_tf32 = False  # a caller's own setting
    try:
        digits_main([*DIGITS, "--logdir", str(tmp_path / "run"), "--quiet"])
        assert tf32_state() == (before[0], False)
    finally:
        torch.backends.cudnn.allow_tf32 = before[1]
