"""make_functaset under torchrun: stage 1 is data-parallel and matches a single process."""
import json
import os
import subprocess
import sys

import pytest
import torch


ARGS = ["--source", "digits", "--preset", "demo", "--limit", "32", "--meta-epochs", "1", "--meta-batch", "16",
        "--fit-steps", "1", "--hidden", "16", "--depth", "2", "--device", "cpu", "--quiet"]


def build(tmp_path, tag, torchrun):
    where = ["--out", str(tmp_path / tag / "fs"), "--logdir", str(tmp_path / tag / "run")]
    launcher = ["-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29531"] if torchrun else []
    cmd = [sys.executable, *launcher, "-m", "functaset.make_functaset", *ARGS, *where]
    done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return torch.load(tmp_path / tag / "fs" / "modSiren.pth", map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.slow
def test_torchrun_stage1_matches_single_process(tmp_path):
    single, ddp = build(tmp_path, "single", False), build(tmp_path, "ddp", True)
    assert json.loads((tmp_path / "ddp" / "run" / "config.json").read_text())["world_size"] == 2
    assert any(not torch.equal(v, torch.zeros_like(v)) for v in single.values())
    for key, value in single.items():  # each rank saw half of every batch; the averaged gradient is the same
        torch.testing.assert_close(ddp[key], value, rtol=1e-4, atol=1e-6)  # measured: <= 3e-8 apart
    assert (tmp_path / "ddp" / "fs" / "digits_test.pkl").is_file()
