"""Written files follow the umask, a killed save's temp file is cleaned up, the resume command is exact."""
from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys

import torch

from common.checkpoint import save_checkpoint
from common.runctx import resume_command
from common.errors import UserError, one_line
from common.io import atomic_write_text


def test_files_get_the_mode_the_umask_gives(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "config.json", "{}")
        ckpt = save_checkpoint({"w": torch.ones(2)}, tmp_path / "models", is_best=True)
    finally:
        os.umask(old)
    for p in (path, ckpt, tmp_path / "models" / "model_best.pth.tar"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p  # mkstemp would give 0o600


def test_a_dead_writers_temp_file_is_removed_by_the_next_save(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is free now
    stale = tmp_path / f".checkpoint.pth.tar.{dead.pid}-abcd1234.tmp"
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / f".checkpoint.pth.tar.{os.getpid()}-00000000.tmp"  # a save in progress here: kept
    live.write_bytes(b"y")
    save_checkpoint({"w": torch.ones(2)}, tmp_path)
    assert not stale.exists() and live.exists()
    assert (tmp_path / "checkpoint.pth.tar").is_file()


def test_resume_command_is_shell_quoted_and_repeats_torchrun(monkeypatch):
    argv = ["/repo/miniplaces/main.py", "data dir", "--logdir", "runs/my run", "--resume", "old.pth", "-b", "8"]
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    plain = resume_command("runs/my run/models/checkpoint.pth.tar", argv)
    assert shlex.split(plain) == [sys.executable, "/repo/miniplaces/main.py", "data dir", "--logdir", "runs/my run",
                                  "-b", "8", "--resume", "runs/my run/models/checkpoint.pth.tar"]
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    monkeypatch.setenv("WORLD_SIZE", "4")
    ddp = shlex.split(resume_command("c.pth", argv))
    assert ddp[:3] == ["torchrun", "--nproc_per_node=4", "/repo/miniplaces/main.py"]
    assert ddp[-2:] == ["--resume", "c.pth"]


def test_a_user_error_from_a_dataloader_worker_is_its_own_line():
    class Broken(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            raise UserError("cannot decode image x.jpg (corrupt or not an image)")

    loader = torch.utils.data.DataLoader(Broken(), batch_size=2, num_workers=1)
    try:
        next(iter(loader))
    except UserError as err:
        assert "Traceback" in str(err)  # what torch hands back: the worker's whole traceback
        assert one_line(err) == "cannot decode image x.jpg (corrupt or not an image)"
    else:
        raise AssertionError("the worker's error did not reach the main process")
