"""scripts/: the demo writes a report from real runs; launch.sh runs jobs in tmux; bench dispatches."""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def test_demo_engine_stage_writes_report_with_metrics_and_figures(tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py"), "--quick", "--stages", "engine",
                          "--out", str(tmp_path), "--device", "cpu"], env=ENV, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    report = (tmp_path / "REPORT.md").read_text()
    assert "| engine | ok |" in report and "`test_acc1`" in report and "sklearn digits" in report
    (run_root,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    for line in report.splitlines():  # every embedded figure exists, relative to the report
        if line.startswith("!["):
            assert (tmp_path / line.split("](")[1].rstrip(")")).is_file()
    assert (run_root / "engine_digits" / "metrics.json").is_file()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_launch_runs_detached_and_tees_the_log(tmp_path):
    name = f"pytest-launch-{os.getpid()}"
    env = {**ENV, "LAUNCH_LOG_DIR": str(tmp_path)}
    cmd = ["bash", str(REPO / "scripts" / "launch.sh"), name, "--", "python", "-c", "print('job says hi')"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"tmux attach -t {name}" in out.stdout and "tail -f" in out.stdout
    log = tmp_path / f"{name}.log"
    for _ in range(100):
        if log.exists() and "exit status" in log.read_text():
            break
        time.sleep(0.2)
    text = log.read_text()
    assert "job says hi" in text and "[launch] exit status 0" in text
    bad = subprocess.run(["bash", str(REPO / "scripts" / "launch.sh"), name], capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_bench_rejects_unknown_names():
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "bench.py"), "nope"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_tensorboard_script_names_a_missing_logdir(tmp_path):
    out = subprocess.run(["bash", str(REPO / "scripts" / "tensorboard.sh"), str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "log directory not found" in out.stderr
