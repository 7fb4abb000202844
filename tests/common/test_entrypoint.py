"""The engine's example entry script as a user runs it: real SIGTERM, resume command, --help, bad input."""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import torch

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def test_sigterm_leaves_loadable_checkpoint_and_printed_resume_command_works(tmp_path):
    logdir = tmp_path / "run"
    cmd = [sys.executable, "-m", "common.train_digits", "--epochs", "6", "-b", "8", "--print-freq", "1",
           "--device", "cpu", "--logdir", str(logdir)]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    for line in proc.stdout:  # wait until the first epoch is done, then stop mid-run
        if line.startswith("epoch 1/6") or time.time() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    ckpt = torch.load(logdir / "models" / "checkpoint.pth.tar", weights_only=True)
    assert ckpt["epoch"] >= 1 and ckpt["arch"] == "digits_smallcnn"
    resume_line = err.strip().splitlines()[-1].strip()
    assert re.search(r"--resume \S+checkpoint\.pth\.tar$", resume_line), err[-1000:]
    resumed = subprocess.run(shlex.split(resume_line) + ["--quiet"], env=ENV, capture_output=True, text=True,
                             timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    metrics = json.loads((logdir / "metrics.json").read_text())
    assert metrics["epochs"] == 6 and metrics["test_acc1"] > 50


def test_help_and_bad_input_are_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "common.train_digits", "--help"], env=ENV, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "--resume" in out.stdout and "--no-amp" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "common.train_digits", "--resume", str(tmp_path / "nope.pth"),
                          "--logdir", str(tmp_path / "r"), "--quiet"], env=ENV, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "checkpoint not found" in bad.stderr
    dev = subprocess.run([sys.executable, "-m", "common.train_digits", "--device", "tpu", "--logdir",
                          str(tmp_path / "d")], env=ENV, capture_output=True, text=True, timeout=60)
    assert dev.returncode == 2 and "--device" in dev.stderr
