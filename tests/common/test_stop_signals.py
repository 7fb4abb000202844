"""Stop signals end a run cleanly: one ``stopped by`` line, exit status 128 + signal, no traceback,
a valid checkpoint (or the previous one as it was), no temp file, and no run directory left by a run
that had only started.  Also for a second signal in quick succession and for Ctrl-C sent to the
whole process group (DataLoader workers included)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import weakref
from pathlib import Path

import pytest
import torch

from common import io as common_io
from common.checkpoint import load_checkpoint
from common.cli import run_context
from common.engine import EngineConfig, Trainer, classification_step
from common.errors import cli_main
from common.io import atomic_write_text

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


# --------------------------------------------------------------- atomic writes
def test_a_ctrl_c_on_any_line_of_an_atomic_write_leaves_no_temp_file(tmp_path):
    """KeyboardInterrupt raised at every line the save executes, one line at a time (a trace function
    raises it, as a signal handler would): the old file stays whole and no temp file outlives the process."""
    target = tmp_path / "metrics.json"
    atomic_write_text(target, "old")
    hit = 0
    for at in range(1, 200):
        lines = {"n": 0}

        def tracer(frame, event, arg):
            if frame.f_code.co_filename != common_io.__file__:
                return None
            if event == "line":
                lines["n"] += 1
                if lines["n"] == at:
                    raise KeyboardInterrupt
            return tracer

        sys.settrace(tracer)
        try:
            atomic_write_text(target, "new")
        except KeyboardInterrupt:
            hit += 1
        finally:
            sys.settrace(None)
        common_io._remove_pending()  # what the interpreter runs at exit
        assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"], at
        assert target.read_text() in ("old", "new"), at
        if target.read_text() == "new":
            break
        assert not common_io._PENDING
    assert hit > 10 and target.read_text() == "new"  # every line up to the rename was hit, then it succeeded


# ------------------------------------------------------- in-process, exact spots
class Noise(torch.utils.data.Dataset):
    def __len__(self):
        return 40

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return torch.randn(6, generator=g), i % 3


def kill_at(call: int, *signums):
    """A step function that sends ``signums`` to this process, one after the other, in its ``call``-th call."""
    calls = {"n": 0}

    def step(model, batch):
        calls["n"] += 1
        if calls["n"] == call:
            for signum in signums:
                os.kill(os.getpid(), signum)
        return classification_step(model, batch)

    return step


def script(logdir: Path, step_fn, epochs: int = 3):
    """An entry script's main (cli_main + run_context + Trainer) around ``step_fn``; 10 steps per epoch."""
    import argparse

    @cli_main
    def main():
        args = argparse.Namespace(device="cpu", seed=0, logdir=str(logdir), quiet=True, resume=None)
        with run_context(args, "signals", resume=None) as ctx:
            model = torch.nn.Linear(6, 3)
            loader = torch.utils.data.DataLoader(Noise(), batch_size=4)
            trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), loader, None, ctx=ctx,
                              cfg=EngineConfig(epochs=epochs, quiet=True), step_fn=step_fn)
            trainer.fit()

    return main


def stopped_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("stopped by")]


def test_a_second_signal_in_the_same_step_aborts_it_in_one_line(tmp_path, capfd):
    main = script(tmp_path / "run", kill_at(13, signal.SIGTERM, signal.SIGTERM))  # epoch 2, step 3
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capfd.readouterr().err
    assert exit_.value.code == 128 + signal.SIGTERM and "Traceback" not in err, err
    assert stopped_lines(err) == [f"stopped by SIGTERM: a second signal aborted the step; nothing of it was saved "
                                  f"(the last checkpoint, {tmp_path / 'run/models/checkpoint.pth.tar'}, is as it was)"]
    ckpt = load_checkpoint(tmp_path / "run" / "models" / "checkpoint.pth.tar")  # CRCs checked
    assert (ckpt["epoch"], ckpt["step"]) == (1, 0)
    assert not list(tmp_path.rglob("*.tmp"))
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are put back


def test_a_second_signal_while_the_stop_saves_lets_the_save_finish(tmp_path, capfd, monkeypatch):
    import common.engine as engine

    save = engine.save_checkpoint

    def interrupted_save(state, models, is_best=False):
        if state["step"]:  # the graceful stop's save: a second Ctrl-C lands now
            os.kill(os.getpid(), signal.SIGINT)
        return save(state, models, is_best)

    monkeypatch.setattr(engine, "save_checkpoint", interrupted_save)
    main = script(tmp_path / "run", kill_at(13, signal.SIGINT))
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capfd.readouterr().err
    assert exit_.value.code == 128 + signal.SIGINT and "Traceback" not in err, err
    assert len(stopped_lines(err)) == 1 and "checkpoint:" in stopped_lines(err)[0]
    ckpt = load_checkpoint(tmp_path / "run" / "models" / "checkpoint.pth.tar")
    assert (ckpt["epoch"], ckpt["step"]) == (1, 3)  # the position the first signal stopped at


def test_a_signal_before_training_removes_the_run_directory_it_started(tmp_path, capfd):
    def step_never(model, batch):
        raise AssertionError("never reached")

    import argparse

    @cli_main
    def main():
        args = argparse.Namespace(device="cpu", seed=0, logdir=str(tmp_path / "a" / "b" / "run"), quiet=True)
        with run_context(args, "signals", resume=None):
            assert (tmp_path / "a" / "b" / "run" / "config.json").is_file()
            os.kill(os.getpid(), signal.SIGHUP)  # e.g. the terminal closed while the data loaded
            time.sleep(1)

    with pytest.raises(SystemExit) as exit_:
        main()
    err = capfd.readouterr().err
    assert exit_.value.code == 128 + signal.SIGHUP and err.strip() == "stopped by SIGHUP", err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # a/b/run and the a/, a/b/ it created


# ------------------------------------------------------ real signals, real timing
HARNESS = textwrap.dedent("""
    import json, os, random, signal, sys, threading, time
    from pathlib import Path
    from common.checkpoint import load_checkpoint
    from common.train_digits import main

    budget, min_runs = float(sys.argv[1]), int(sys.argv[2])
    late = []
    for sig in (signal.SIGINT, signal.SIGTERM):  # the shell's part: a signal between two runs
        signal.signal(sig, lambda s, f: late.append(s))
    unraisable = []
    sys.unraisablehook = lambda u: unraisable.append(repr(u.exc_value))
    args = ["--epochs", "3", "--train-size", "64", "-b", "8", "-p", "1", "--device", "cpu", "--quiet"]
    main([*args, "--logdir", "warm-up"])  # first, every lazy import: one cut short would poison this process
    rng, results, start, i = random.Random(0), [], time.monotonic(), 0
    pairs = [(signal.SIGTERM, signal.SIGTERM), (signal.SIGINT, signal.SIGINT), (signal.SIGTERM, signal.SIGINT)]
    while time.monotonic() - start < budget or i < min_runs:
        first, second = pairs[i % 3]
        wait, gap = rng.uniform(0.02, 0.6), rng.choice([0.0, 0.001, 0.005, 0.01, 0.02])

        def fire():
            time.sleep(wait)
            os.kill(os.getpid(), first)
            time.sleep(gap)
            os.kill(os.getpid(), second)

        run, err_file = Path(f"run{i}"), Path(f"err{i}.txt")
        sys.stderr.flush()
        saved, fd = os.dup(2), os.open(err_file, os.O_WRONLY | os.O_CREAT, 0o644)
        os.dup2(fd, 2)
        shooter = threading.Thread(target=fire)
        shooter.start()
        try:
            main([*args, "--logdir", str(run)])
            code = 0
        except SystemExit as exit_:
            code = exit_.code
        except BaseException as err:  # what a user would see as a traceback
            code = "escaped: " + repr(err)
        shooter.join()
        sys.stderr.flush()
        os.dup2(saved, 2)
        ckpt = run / "models" / "checkpoint.pth.tar"
        try:
            position = list(map(load_checkpoint(ckpt).get, ("epoch", "step"))) if ckpt.exists() else None
        except Exception as err:
            position = "unreadable: " + str(err)
        results.append({"signals": [first, second], "wait": wait, "gap": gap, "code": code,
                        "err": err_file.read_text(), "position": position,
                        "temps": [str(p) for p in run.rglob("*.tmp")] if run.exists() else [],
                        "files": sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
                        if run.exists() else None})
        i += 1
    print(json.dumps({"runs": results, "unraisable": unraisable}))
""")


def test_a_stop_raised_inside_a_finalizer_is_sent_again_not_lost(monkeypatch):
    """The signal lands while a weakref callback runs (Python would print "Exception ignored" and go on):
    the stop is delivered again outside it, and nothing reaches the unraisable hook."""
    from common.errors import Interrupted
    from common.signals import stop_on_signals

    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: dropped.append(u.exc_value))

    class Victim:
        pass

    def callback(_ref):  # runs as a finalizer: the handler raises at one of these bytecodes
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(1000))

    with pytest.raises(Interrupted) as stop:
        with stop_on_signals():
            victim = Victim()
            ref = weakref.ref(victim, callback)
            del victim
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # the stop arrives within milliseconds
                time.sleep(0.001)
    assert stop.value.signum == signal.SIGTERM and dropped == [] and ref() is None


def test_two_signals_in_quick_succession_never_give_a_traceback(tmp_path):
    """Runs train_digits' main again and again in one process; a thread sends two signals 0-20 ms apart at a
    random moment (start-up, a step, a save, the stop's way out, after the run).  ~15 s on 2 loaded cores."""
    out = subprocess.run([sys.executable, "-c", HARNESS, "10", "12"], cwd=tmp_path,
                         env={**ENV, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    runs = report["runs"]
    assert report["unraisable"] == []
    for r in runs:
        codes = {0, *(128 + s for s in r["signals"])}
        assert r["code"] in codes, r
        assert "Traceback" not in r["err"] and "Exception ignored" not in r["err"], r
        assert len(stopped_lines(r["err"])) == (r["code"] != 0), r  # exactly one line says why it stopped
        assert r["temps"] == [], r
        assert not str(r["position"]).startswith("unreadable"), r
        if r["files"] is not None and r["code"]:  # a kept directory holds more than its start wrote
            assert set(r["files"]) - {"config.json"}, r
    outcomes = {"aborted" if "second signal" in r["err"] else "saved" if "checkpoint:" in r["err"] else
                "start" if r["code"] else "finished" for r in runs}
    assert len(runs) >= 12 and outcomes & {"aborted", "saved"}, [r["err"] for r in runs]  # some hit training


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_process_group_leaves_the_workers_to_the_main_process(tmp_path, sig):
    """A terminal's Ctrl-C, ``kill -TERM -PGID`` or a batch system's preemption reaches the DataLoader
    workers too: they must neither print nor die (torch's own worker handler ends a worker on a SIGTERM
    not sent by its parent), so the step finishes, the checkpoint is saved and the notice is printed once."""
    cmd = [sys.executable, "-m", "common.train_digits", "--epochs", "20", "-b", "32", "-j", "2", "-p", "1",
           "--device", "cpu", "--logdir", str(tmp_path / "run")]
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    for line in proc.stdout:
        if line.startswith("epoch 1/"):
            break
    time.sleep(0.3)
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    name = signal.Signals(sig).name
    assert proc.returncode == 128 + sig and "Traceback" not in err, err
    assert err.count(f"[signal {name}]") == 1 and len(stopped_lines(err)) == 1, err
    ckpt = load_checkpoint(tmp_path / "run" / "models" / "checkpoint.pth.tar")
    assert ckpt["epoch"] >= 1


LEAKED_ITERATOR = """
import torch
from torch.utils.data import DataLoader, TensorDataset
from common.device import seed_worker
loader = DataLoader(TensorDataset(torch.arange(64.)), batch_size=4, num_workers=2, worker_init_fn=seed_worker)
KEPT = iter(loader)  # alive at exit, as when a traceback holds it: multiprocessing's exit handler must stop its workers
next(KEPT)
"""


def test_an_iterator_alive_at_exit_does_not_hang_the_exit(tmp_path):
    """Our workers once ignored SIGTERM, the signal multiprocessing's exit handler stops them with before
    waiting for them: a run that failed mid-epoch never exited (found as a hung test suite)."""
    out = subprocess.run([sys.executable, "-c", LEAKED_ITERATOR], cwd=tmp_path, env={**ENV, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
