"""The Technion hand-ins (functaset, autoencoders): code + wet.pdf + dry.pdf, exactly; results required.

Each test runs on a copy of the assignment folder (and common/) in tmp_path with small
fabricated results, so it never depends on, or writes, the committed results.
"""
from __future__ import annotations

import importlib
import io
import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from common.pdf import pdf_pages_and_images
from common.submission import is_dry, local_links, sections, select_sections

REPO = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns("__pycache__", "results", "*.pyc")


def fixture_copy(tmp_path: Path, folder: str, monkeypatch, fabricate) -> tuple[Path, object]:
    """``tmp/repo/<folder>`` + ``common/`` copied, fabricated results: every one the docs link, plus
    one figure and one JSON linked from the wet part."""
    repo = tmp_path / "repo"
    for name in (folder, "common"):
        shutil.copytree(REPO / name, repo / name, ignore=IGNORE)
    target = repo / folder
    fabricate(target)
    (target / "results" / "figures").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (320, 200), (30, 90, 200)).save(target / "results" / "figures" / "fabricated.png")
    (target / "results" / "fabricated.json").write_text('{"acc": 0.5}\n')
    text = (target / "ANSWERS.md").read_text(encoding="utf-8")
    first_dry = next(h for h, _ in sections(text) if h and is_dry(h))
    figure = "![fabricated](results/figures/fabricated.png)\n\n*fabricated test figure*\n\n"
    text = text.replace(f"## {first_dry}\n", f"{figure}[numbers](results/fabricated.json)\n\n## {first_dry}\n", 1)
    (target / "ANSWERS.md").write_text(text, encoding="utf-8")
    module = importlib.import_module(f"{folder}.package_submission")
    monkeypatch.setattr(module, "FOLDER", target)
    return target, module


def expected_code(target: Path) -> set[str]:
    names = set()
    for package in (target, target.parent / "common"):
        for f in package.rglob("*"):
            if f.suffix in (".py", ".md", ".txt") and "__pycache__" not in f.parts and "results" not in f.parts:
                names.add(f.relative_to(target.parent).as_posix())
    return names - {f"{target.name}/ANSWERS.md"}


def headings(pdf: bytes) -> list[str]:
    """Every bookmark (= heading) of a PDF, flattened."""
    def walk(items):
        for item in items:
            yield from walk(item) if isinstance(item, list) else [item.title]

    return list(walk(PdfReader(io.BytesIO(pdf)).outline))


@pytest.mark.parametrize("folder", ["functaset", "autoencoders"])
def test_zip_holds_exactly_code_wet_and_dry(folder, tmp_path, monkeypatch, capsys, fabricate_results):
    target, module = fixture_copy(tmp_path, folder, monkeypatch, fabricate_results)
    out = tmp_path / "123-456.zip"
    module.main(["--out", str(out)])
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert names == expected_code(target) | {"wet.pdf", "dry.pdf"}
        assert f"{folder}/main.py" in names or "functaset/classifier.py" in names
        pdfs = {name: zf.read(name) for name in ("wet.pdf", "dry.pdf")}
    wet_pages, wet_images = pdf_pages_and_images(pdfs["wet.pdf"])
    dry_pages, _ = pdf_pages_and_images(pdfs["dry.pdf"])
    assert wet_pages >= 2 and wet_images >= 1 and dry_pages >= 2
    wet, dry = headings(pdfs["wet.pdf"]), headings(pdfs["dry.pdf"])
    assert any(h.startswith("Wet") for h in wet) and not any(h.startswith("Dry") for h in wet)
    assert any(h.startswith("Dry 1") for h in dry) and not any(h.startswith("Wet") for h in dry)
    assert "wet.pdf" in capsys.readouterr().out


@pytest.mark.parametrize("folder", ["functaset", "autoencoders"])
def test_missing_results_and_existing_zip_are_one_line_errors(folder, tmp_path, monkeypatch, capsys,
                                                              fabricate_results):
    target, module = fixture_copy(tmp_path, folder, monkeypatch, fabricate_results)
    out = tmp_path / "hand_in.zip"
    out.write_bytes(b"an earlier hand-in")
    with pytest.raises(SystemExit) as exc:  # never written over
        module.main(["--out", str(out)])
    assert exc.value.code == 2 and "already exists" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier hand-in"
    results, kept = target / "results", tmp_path / "kept_results"
    shutil.copytree(results, kept)
    for missing, needle in ((results / "figures" / "fabricated.png", "results/figures/fabricated.png"),
                            (results / "fabricated.json", "results/fabricated.json"),
                            (results, f"{folder}/results is missing")):
        shutil.rmtree(results, ignore_errors=True)
        shutil.copytree(kept, results)
        shutil.rmtree(missing) if missing.is_dir() else missing.unlink()
        with pytest.raises(SystemExit) as exc:
            module.main(["--out", str(tmp_path / "new.zip")])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and len(err.strip().splitlines()) == 1, err
        assert needle in err and f"python -m {folder}.results" in err and "make results" in err
        assert not (tmp_path / "new.zip").exists()


def test_sections_split_on_level_two_headings_outside_code():
    text = "# T\nintro\n## Wet 1\nw\n```\n## Dry in code\n```\n## Dry 1: q\nd\n## Beyond\nb\n"
    assert [h for h, _ in sections(text)] == [None, "Wet 1", "Dry 1: q", "Beyond"]
    assert select_sections(text, is_dry) == "# T\nintro\n## Dry 1: q\nd\n"
    assert "## Dry in code" in select_sections(text, lambda h: not is_dry(h))


def test_local_links_skip_urls_anchors_and_code(tmp_path):
    doc = tmp_path / "A.md"
    doc.write_text("[a](results/x.json) ![b [c] d](fig.png) [c](https://x.org/y.png) [d](#sec)\n"
                   "```\n![e](code.png)\n```\n")
    assert local_links(doc) == [tmp_path / "results" / "x.json", tmp_path / "fig.png"]
