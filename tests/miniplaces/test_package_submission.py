"""The hand-in zip: code/ (student_code.py on top), writeup/, results/; no data, logs or models; no overwrite."""
from __future__ import annotations

import zipfile

import pytest

from miniplaces import package_submission


def test_zip_layout_and_exclusions(tmp_path, capsys):
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
    names = set(zipfile.ZipFile(out).namelist())
    assert {"code/", "writeup/", "results/", "code/student_code.py", "code/miniplaces/main.py",
            "code/common/engine.py", "writeup/ANSWERS.md", "writeup/report.pdf",
            "results/exp_1/figures/training_curves.png", "results/exp_1/metrics.json"} <= names
    assert not [n for n in names if n.endswith((".pth", ".tar")) or "tfevents" in n or "/models/" in n]
    assert not [n for n in names if "__pycache__" in n or n == "code/miniplaces/student_code.py"]
    assert {n.split("/")[0] for n in names} == {"code", "writeup", "results"}
    shipped = zipfile.ZipFile(out).read("code/student_code.py")
    assert shipped == (package_submission.REPO / "miniplaces" / "student_code.py").read_bytes()
    capsys.readouterr()
    before = out.read_bytes()
    with pytest.raises(SystemExit) as exc:  # never overwrites
        package_submission.main(["--out", str(out)])
    assert exc.value.code == 2 and "already exists" in capsys.readouterr().err and out.read_bytes() == before
    with pytest.raises(SystemExit):
        package_submission.main(["--out", str(tmp_path / "b.zip"), "--results", str(tmp_path / "missing")])
    assert not (tmp_path / "b.zip").exists()
