"""scripts/demo.py: a user mistake is one `error:` line and exit status 2, never a traceback (issue 20)."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def _demo(*args):
    return subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py"), *args], capture_output=True, text=True,
                          timeout=120)


def _one_error_line(out, *words):
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert all(w in lines[0] for w in words) and "Traceback" not in out.stdout + out.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu(tmp_path):
    _one_error_line(_demo("--device", "cuda", "--out", str(tmp_path / "demo")), "--device cuda", "--device cpu")
    assert not (tmp_path / "demo").exists()  # nothing was started


def test_out_is_a_file(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("keep me")
    _one_error_line(_demo("--device", "cpu", "--out", str(target)), str(target), "not a folder")
    assert target.read_text() == "keep me"
    _one_error_line(_demo("--device", "cpu", "--out", str(target / "sub")), "cannot create")
