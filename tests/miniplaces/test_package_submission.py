"""The hand-in zip: code/ (student_code.py on top), writeup/ (with the rendered PDF), results/; no data,
logs or models; committed results required; no overwrite.  Runs on a copy of miniplaces/ and common/
with fabricated results in tmp_path."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from common.pdf import pdf_pages_and_images
from miniplaces import package_submission

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path, monkeypatch, fabricate_results) -> Path:
    for name in ("miniplaces", "common"):
        shutil.copytree(REPO / name, tmp_path / "repo" / name,
                        ignore=shutil.ignore_patterns("__pycache__", "results"))
    target = tmp_path / "repo" / "miniplaces"
    fabricate_results(target)
    (target / "results" / "figures").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (300, 200), (20, 140, 60)).save(target / "results" / "figures" / "curves_simplenet.png")
    (target / "results" / "simplenet.json").write_text('{"val_acc1": 0.5}\n')
    with open(target / "ANSWERS.md", "a", encoding="utf-8") as fh:
        fh.write("\n![curves](results/figures/curves_simplenet.png)\n\n*fabricated training curves*\n")
    monkeypatch.setattr(package_submission, "FOLDER", target)
    return target


def test_zip_layout_and_exclusions(folder, tmp_path, capsys):
    run = tmp_path / "exp_1"
    (run / "figures").mkdir(parents=True)
    (run / "models").mkdir()
    (run / "figures" / "training_curves.png").write_bytes(b"png")
    (run / "metrics.json").write_text("{}")
    (run / "models" / "model_best.pth.tar").write_bytes(b"weights")
    (run / "events.out.tfevents.1.host").write_bytes(b"tb")
    (run / "stray.pth").write_bytes(b"weights")
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF")
    out = tmp_path / "submission.zip"
    package_submission.main(["--out", str(out), "--writeup", str(report), "--results", str(run)])
    zf = zipfile.ZipFile(out)
    names = set(zf.namelist())
    assert {"code/", "writeup/", "results/", "code/student_code.py", "code/miniplaces/main.py",
            "code/common/engine.py", "writeup/ANSWERS.md", "writeup/report.pdf", "writeup/writeup.pdf",
            "results/simplenet.json", "results/figures/curves_simplenet.png",
            "results/exp_1/figures/training_curves.png", "results/exp_1/metrics.json"} <= names
    assert not [n for n in names if n.endswith((".pth", ".tar")) or "tfevents" in n or "/models/" in n]
    assert not [n for n in names if "__pycache__" in n or n == "code/miniplaces/student_code.py"]
    assert {n.split("/")[0] for n in names} == {"code", "writeup", "results"}
    assert zf.read("code/student_code.py") == (folder / "student_code.py").read_bytes()
    pages, images = pdf_pages_and_images(zf.read("writeup/writeup.pdf"))
    assert pages >= 2 and images >= 1  # the curves linked from ANSWERS.md are in the writeup
    capsys.readouterr()
    before = out.read_bytes()
    with pytest.raises(SystemExit) as exc:  # never overwrites
        package_submission.main(["--out", str(out)])
    assert exc.value.code == 2 and "already exists" in capsys.readouterr().err and out.read_bytes() == before
    with pytest.raises(SystemExit):
        package_submission.main(["--out", str(tmp_path / "b.zip"), "--results", str(tmp_path / "missing")])
    assert not (tmp_path / "b.zip").exists()


def test_missing_results_name_the_command(folder, tmp_path, capsys):
    (folder / "results" / "figures" / "curves_simplenet.png").unlink()
    with pytest.raises(SystemExit) as exc:
        package_submission.main(["--out", str(tmp_path / "a.zip")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "miniplaces/results/figures/curves_simplenet.png" in err
    assert "python -m miniplaces.results" in err and len(err.strip().splitlines()) == 1
    shutil.rmtree(folder / "results")
    with pytest.raises(SystemExit):
        package_submission.main(["--out", str(tmp_path / "a.zip")])
    assert "miniplaces/results is missing" in capsys.readouterr().err and not (tmp_path / "a.zip").exists()
