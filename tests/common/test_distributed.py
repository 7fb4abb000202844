"""DDP: the sampler reproduces single-process batches; a real 2-process torchrun run matches."""
import json
import os
import subprocess
import sys

import pytest

from common.distributed import ShardedSampler


def batches(sampler, local_batch):
    order = list(sampler)
    return [order[i:i + local_batch] for i in range(0, len(order), local_batch)]


def test_ranks_split_each_global_batch_exactly():
    single = batches(ShardedSampler(100, 20, seed=3), 20)
    ranks = [batches(ShardedSampler(100, 20, seed=3, rank=r, world_size=2), 10) for r in range(2)]
    for b, full in enumerate(single):
        assert ranks[0][b] + ranks[1][b] == full
    assert sorted(sum(single, [])) == list(range(100))


def test_epochs_differ_and_skip_resumes_the_order():
    sampler = ShardedSampler(50, 10, seed=0)
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0, skip_batches=2)
    assert list(sampler) == first[20:] and len(sampler) == 30


def run_digits(args, env_extra=None, torchrun=False):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    if torchrun:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
               "-m", "common.train_digits", *args]
    else:
        cmd = [sys.executable, "-m", "common.train_digits", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_torchrun_two_processes_match_single_process(tmp_path):
    # 1216 = 19 full batches of 64: every rank gets equal halves, so DDP's averaged
    # gradient equals the single-process gradient (up to float summation order).
    common_args = ["--epochs", "2", "-b", "64", "--train-size", "1216", "--device", "cpu", "--quiet", "--seed", "1"]
    single = run_digits([*common_args, "--logdir", str(tmp_path / "single")])
    assert single.returncode == 0, single.stderr[-2000:]
    ddp = run_digits([*common_args, "--logdir", str(tmp_path / "ddp")], torchrun=True)
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    a = json.loads((tmp_path / "single" / "metrics.json").read_text())
    b = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-4)
    assert abs(b["test_acc1"] - a["test_acc1"]) <= 0.5
    assert (tmp_path / "ddp" / "models" / "checkpoint.pth.tar").exists()
