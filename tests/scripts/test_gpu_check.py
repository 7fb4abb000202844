"""scripts/gpu_check: skips cleanly without a GPU; its step runner keeps to the budget and records failures.

The GPU steps themselves are the GPU-marked tests (tests/*/test_*gpu*.py), the demo and
the benchmarks, each tested on the CPU elsewhere.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def load_gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the check would really run")
def test_without_a_gpu_it_says_so_and_exits_0(tmp_path):
    out = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), "--out", str(tmp_path / "o")],
                         env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "no CUDA GPU" in out.stdout and "skipped" in out.stdout
    assert not (tmp_path / "o").exists()


def test_steps_record_success_failure_and_budget_skips(tmp_path):
    gc = load_gpu_check()
    steps = gc.Steps(tmp_path, budget=60)
    ok = steps.run("ok", [sys.executable, "-c", "print('hi')"], 30)
    bad = steps.run("bad", [sys.executable, "-c", "raise SystemExit(3)"], 30)
    steps.deadline = 0  # no time left
    late = steps.run("late", [sys.executable, "-c", "print('never')"], 30)
    assert ok["status"] == "ok" and "hi" in ok["tail"]
    assert bad["status"] == "failed (exit 3)"
    assert late["status"].startswith("skipped") and "tail" not in late
    report = {"gpu": "test", "torch": torch.__version__, "steps": steps.records,
              "figures": {"simplenet": {"device": {"images_per_s": 1234.5}}, "note": "x"}}
    text = gc.table(report)
    assert "failed (exit 3)" in text and "simplenet.device.images_per_s" in text and "1234" in text
    json.dumps(report)


def test_simplenet_figures_from_a_run_directory(tmp_path):
    gc = load_gpu_check()
    (tmp_path / "models").mkdir()
    (tmp_path / "metrics.json").write_text(json.dumps({"seconds_per_iter": 0.5}))
    history = [{"epoch_seconds": 9.0}, {"epoch_seconds": 4.0}]
    torch.save({"history": history}, tmp_path / "models" / "checkpoint.pth.tar")
    figures = gc.simplenet_figures(tmp_path, train_images=1000, batch=256)
    assert figures["images_per_s"] == 512 and figures["epoch_seconds"] == 4.0
    assert figures["epoch_images_per_s"] == 250 and figures["miniplaces_epoch_seconds_estimate"] == 400


def test_on_a_gpu_machine_every_step_runs_and_the_step_bench_is_reported(tmp_path, monkeypatch, capsys):
    """gpu_check's CUDA control flow, dry: torch reports a GPU and each step 'succeeds' without running;
    the step bench's JSON lands in the figures and the table, and all steps ok -> exit 0."""
    gc = load_gpu_check()
    ran = []

    def fake_run(self, name, argv, limit):
        ran.append(argv)
        if "step" in argv and "--json" in argv:  # what bench_step.py writes
            Path(argv[argv.index("--json") + 1]).write_text(json.dumps({"device_images_per_s": 123.0,
                                                                        "device_syncs_per_step": 0.0}))
        record = {"step": name, "command": " ".join(argv), "status": "ok", "seconds": 0.0}
        self.records.append(record)
        return record

    monkeypatch.setattr(gc.Steps, "run", fake_run)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "fake GPU")
    assert gc.main(["--out", str(tmp_path / "o")]) == 0
    bench = next(a for a in ran if "step" in a and "scripts/bench.py" in a)
    assert bench[bench.index("--device") + 1] == "cuda"
    benches = [a[a.index("scripts/bench.py") + 1] for a in ran if "scripts/bench.py" in a]
    spec = importlib.util.spec_from_file_location("bench_dispatch", REPO / "scripts" / "bench.py")
    dispatch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dispatch)
    assert set(benches) <= set(dispatch.BENCHMARKS) and "step" in benches  # every bench it calls exists
    report = json.loads((tmp_path / "o" / "gpu_check.json").read_text())
    assert report["figures"]["bench_step"]["device_syncs_per_step"] == 0.0
    assert "bench_step.device_images_per_s" in capsys.readouterr().out
