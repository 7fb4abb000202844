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


# ------------------------------------------------------------------ failed starts
def test_a_failed_start_removes_what_it_created_and_nothing_else(tmp_path):
    from common.rundir import RunDir

    fresh = RunDir(tmp_path / "a" / "b" / "run")  # creates a/, a/b/ and the run
    fresh.write_config({"lr": 0.1})
    assert fresh.discard_failed_start() and sorted(tmp_path.iterdir()) == []

    mine = tmp_path / "mine"  # an empty folder the user made: emptied again, never removed
    mine.mkdir()
    (tmp_path / "notes.txt").write_text("beside it\n")
    run = RunDir(mine)
    run.write_config({"lr": 0.1})
    assert run.discard_failed_start() and mine.is_dir() and list(mine.iterdir()) == []
    assert (tmp_path / "notes.txt").read_text() == "beside it\n"

    started = RunDir(tmp_path / "started")  # a run that saved something of its own keeps everything
    started.write_config({"lr": 0.1})
    (started.models / "checkpoint.pth.tar").write_bytes(b"weights")
    assert not started.discard_failed_start()
    assert sorted(p.name for p in started.path.rglob("*")) == ["checkpoint.pth.tar", "config.json", "figures",
                                                              "models"]


def test_a_refused_resume_in_place_leaves_the_run_byte_identical(runs):
    from common.rundir import RunDir

    before = snapshot(runs / "A")
    resumed = RunDir(runs / "A", resuming=True)
    resumed.write_config({"lr": 0.1})  # config_resume_<time>.json, then the resume is refused
    assert len(list((runs / "A").glob("config_resume_*.json"))) == 1
    assert resumed.discard_failed_start() and snapshot(runs / "A") == before


def test_the_message_for_a_used_logdir_names_only_files_that_exist(runs, tmp_path, capsys):
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine\n")
    for logdir, resume in ((runs / "A", True), (user, False)):
        with pytest.raises(SystemExit):
            train_digits(["--epochs", "1", *TINY, "--logdir", str(logdir)])
        err = capsys.readouterr().err
        assert "already holds a run" in err and ("--resume" in err) == resume, err
        if resume:
            assert f"--resume {logdir / 'models' / 'checkpoint.pth.tar'}" in err


# --------------------------------------------------- resumes of nested checkpoints
def _checkpoint(path: Path, epoch: int, arch: str = "autoencoders.autoencoder") -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": epoch, "step": 0, "arch": arch, "state_dict": {"w": torch.ones(2)}}, path)
    return path


def test_a_nested_checkpoint_is_checked_against_the_newest_one_beside_it(tmp_path):
    """autoencoders keeps <run>/<dataset>_<mode>/<stage>/models/: resume_run names the run, and the newest
    checkpoint is the one beside the resumed file."""
    from common.errors import UserError
    from common.runctx import check_resume

    root = tmp_path / "run"
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"assignment": "autoencoders"}))
    models = root / "digits_selfsup" / "autoencoder" / "models"
    best = _checkpoint(models / "model_best.pth.tar", 1)
    newest = _checkpoint(models / "checkpoint.pth.tar", 3)
    with pytest.raises(UserError, match=f"went further: {newest} is at the end of epoch 3"):
        check_resume(best, "autoencoders", logdir=str(root), resume_run=root)
    assert check_resume(newest, "autoencoders", logdir=str(root), resume_run=root) == newest
    assert check_resume(best, "autoencoders", logdir=str(tmp_path / "fork")) == best  # a fork overwrites nothing
    with pytest.raises(UserError, match="was written by autoencoders, not functaset"):
        check_resume(newest, "functaset", resume_run=root)
    with pytest.raises(UserError, match="architecture 'autoencoders.autoencoder'"):
        check_resume(newest, "autoencoders", resume_run=root, arch="autoencoders.classifier")
    with pytest.raises(UserError, match="--epochs 3 leaves nothing to train"):
        check_resume(newest, "autoencoders", resume_run=root, epochs=3)
    newest.write_bytes(newest.read_bytes()[:300])  # the newer file damaged: refused too, never overwritten
    with pytest.raises(UserError, match="cannot be checked .*add --logdir NEW_DIR"):
        check_resume(best, "autoencoders", logdir=str(root), resume_run=root)


def test_two_resumes_in_one_second_keep_both_configs(tmp_path):
    from common.rundir import RunDir

    RunDir(tmp_path / "r").write_config({"lr": 0.1})
    first = RunDir(tmp_path / "r", resuming=True)
    first.write_config({"lr": 0.1, "n": 1})
    second = RunDir(tmp_path / "r", resuming=True)
    second.write_config({"lr": 0.1, "n": 2})
    assert len(list((tmp_path / "r").glob("config_resume_*.json"))) == 2  # not one over the other
    assert second.discard_failed_start()  # the refused second resume takes only its own file
    assert [json.loads(p.read_text())["args"]["n"] for p in sorted((tmp_path / "r").glob("config_resume_*"))] == [1]
