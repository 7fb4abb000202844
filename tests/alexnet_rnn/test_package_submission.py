"""The COMP 691 hand-in: exactly the PDF and the notebook; the PDF carries the answers' figures and the
notebook's code and output; missing results or a stale / unexecuted notebook stop it with the command to run.

Runs on a copy of alexnet_rnn/ with fabricated results and a notebook generated from the current
sources whose cells carry fabricated outputs (executing it is test_notebook.py's job).
"""
from __future__ import annotations

import base64
import io
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from PIL import Image
from pypdf import PdfReader

from alexnet_rnn import build_notebook, package_submission
from common.pdf import pdf_pages_and_images

REPO = Path(__file__).resolve().parents[2]


def executed_looking_notebook():
    """The notebook the sources give now, every code cell 'executed', one with a printed line and a figure."""
    nb = build_notebook.new_notebook()
    png = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 60, 20)).save(png, format="PNG")
    code = [c for c in nb.cells if c.cell_type == "code"]
    for count, cell in enumerate(code, 1):
        cell.execution_count = count
    answer = next(c for c in code if "predictions = show_predictions(" in c.source)
    answer.outputs = [nbformat.v4.new_output("stream", name="stdout", text="fabricated: grace_hopper.jpg\n"),
                      nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png.getvalue())
                                                                   .decode(), "text/plain": "<Image>"})]
    return nb


@pytest.fixture
def folder(tmp_path, monkeypatch, fabricate_results) -> Path:
    target = tmp_path / "alexnet_rnn"
    shutil.copytree(REPO / "alexnet_rnn", target, ignore=shutil.ignore_patterns("__pycache__", "results",
                                                                                  "assignment2.ipynb"))
    results = fabricate_results(target)
    (results / "figures").mkdir(exist_ok=True)
    Image.new("RGB", (64, 48), (10, 160, 90)).save(results / "figures" / "fabricated.png")
    with open(target / "ANSWERS.md", "a", encoding="utf-8") as fh:
        fh.write("\n![fabricated](results/figures/fabricated.png)\n\n*fabricated figure*\n")
    nbformat.write(executed_looking_notebook(), target / "assignment2.ipynb")
    monkeypatch.setattr(package_submission, "FOLDER", target)
    return target


def test_zip_holds_the_pdf_with_code_and_output_and_the_notebook(folder, tmp_path):
    out = tmp_path / "a2.zip"
    package_submission.main(["--out", str(out)])
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["assignment2.ipynb", "assignment2.pdf"]
        assert zf.read("assignment2.ipynb") == (folder / "assignment2.ipynb").read_bytes()
        pdf = zf.read("assignment2.pdf")
    pages, images = pdf_pages_and_images(pdf)
    assert pages >= 10 and images >= 2  # the answers' figure and the notebook's
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    for needle in ("Q1(a) Receptive fields", "Appendix A", "fabricated: grace_hopper.jpg", "show_predictions(",
                   "Appendix B", "def targeted_l1_attack", "class RNNLM"):
        assert needle in text, needle
    assert "class Trainer" not in text  # the engine stays in the notebook; the PDF shows the assignment's code


def test_stale_or_unexecuted_notebook_and_missing_results_name_the_command(folder, tmp_path, capsys):
    nb = nbformat.read(folder / "assignment2.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    cells[-1].source += "\n# edited by hand"
    nbformat.write(nb, folder / "assignment2.ipynb")
    with pytest.raises(SystemExit) as exc:
        package_submission.main(["--out", str(tmp_path / "a.zip")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "is stale" in err and "python -m alexnet_rnn.build_notebook" in err
    nb = executed_looking_notebook()
    next(c for c in nb.cells if c.cell_type == "code").execution_count = None
    nbformat.write(nb, folder / "assignment2.ipynb")
    with pytest.raises(SystemExit):
        package_submission.main(["--out", str(tmp_path / "a.zip")])
    assert "never executed" in capsys.readouterr().err
    (folder / "results" / "figures" / "fabricated.png").unlink()
    with pytest.raises(SystemExit):
        package_submission.main(["--out", str(tmp_path / "a.zip")])
    err = capsys.readouterr().err
    assert "results/figures/fabricated.png" in err and "python -m alexnet_rnn.results" in err
    assert not (tmp_path / "a.zip").exists()
