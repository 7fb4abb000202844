"""scripts/tensorboard.sh serves on localhost unless --bind-all is asked for."""
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def serve(tmp_path, *args):
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "tensorboard").write_text('#!/bin/sh\necho "ARGS $*"\n')
    (fake / "tensorboard").chmod(0o755)
    env = {**os.environ, "TENSORBOARD_BIN": str(fake / "tensorboard")}
    out = subprocess.run(["bash", str(REPO / "scripts" / "tensorboard.sh"), *args, str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return next(line for line in out.stdout.splitlines() if line.startswith("ARGS "))


def test_tensorboard_binds_to_localhost_by_default(tmp_path):
    args = serve(tmp_path)
    assert "--host localhost" in args and "--bind_all" not in args


def test_bind_all_is_explicit(tmp_path):
    args = serve(tmp_path, "--bind-all")
    assert "--bind_all" in args and "--host" not in args
