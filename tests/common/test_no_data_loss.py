"""The review's data-loss cases: a run directory that holds another run keeps every byte."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoencoders.main import main as autoencoders_main
from common.train_digits import main as train_digits

TINY = ["--train-size", "64", "-b", "32", "--device", "cpu", "--quiet"]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name in ("A", "B"):
        train_digits(["--epochs", "1", *TINY, "--logdir", str(root / name)])
    (root / "B" / "summary.md").write_text("a user's notes\n")
    return root


def test_resume_with_the_logdir_of_another_run_is_refused(runs, capsys):
    before = {name: snapshot(runs / name) for name in ("A", "B")}
    with pytest.raises(SystemExit) as exit_:
        train_digits(["--epochs", "2", *TINY, "--resume", str(runs / "A" / "models" / "checkpoint.pth.tar"),
                      "--logdir", str(runs / "B")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "holds another run" in err and "drop --logdir" in err and "new --logdir" in err
    assert {name: snapshot(runs / name) for name in ("A", "B")} == before


def test_autoencoders_resume_of_a_foreign_checkpoint_is_refused(runs, capsys, tmp_path, monkeypatch):
    """Was: the folder three levels above the file became the run root and its summary.md was overwritten."""
    monkeypatch.chdir(tmp_path)
    before = snapshot(runs / "B")
    with pytest.raises(SystemExit) as exit_:
        autoencoders_main(["--dataset", "digits", "--dry-run", "--device", "cpu", "--quiet",
                           "--resume", str(runs / "B" / "models" / "checkpoint.pth.tar")])
    assert exit_.value.code == 2 and "not a stage checkpoint" in capsys.readouterr().err
    assert snapshot(runs / "B") == before
    assert not (tmp_path / "logs").exists()  # no run directory was started either


def test_resume_into_a_new_logdir_forks_and_keeps_the_original(runs, tmp_path):
    before = snapshot(runs / "A")
    metrics = train_digits(["--epochs", "2", *TINY, "--resume", str(runs / "A" / "models" / "checkpoint.pth.tar"),
                            "--logdir", str(tmp_path / "fork")])
    assert metrics["epochs"] == 2
    assert json.loads((tmp_path / "fork" / "metrics.json").read_text())["epochs"] == 2
    assert snapshot(runs / "A") == before
