"""Markdown -> PDF (common/pdf.py): every block kind lands in the PDF, math glyphs survive, nothing is guessed."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from common.errors import UserError
from common.pdf import markdown_to_pdf, missing_glyphs, pdf_pages_and_images

REPO = Path(__file__).resolve().parents[2]
MATH = "‖∂h_T/∂h_0‖ ≤ δ^T → 0, λ_max(WᵀW) ≤ δ²/γ², α ≈ 10⁻³, ∑ ∏ √ ∞ ∈ ∇"

DOC = f"""# Title with `code`

Intro with **bold**, *italic*, `inline code`, a [link](https://example.org) and a
[section link](#second-section). Math: {MATH}.
A list right after a paragraph line (GitHub starts a list here):
* first item with `code`
* second item

1. numbered
2. items

| symbol | value with **bold** | `code` column |
|---|---|---|
| ‖A‖ | √λ_max(AᵀA) | `norm(A, 2)` |

```
a code line {'x' * 200}
‖∂h_T/∂h_0‖ ≤ δ^T
```

<!-- results:table -->
## Second section

![a red figure](figs/red.png)

*a red figure: fabricated for this test*
"""


@pytest.fixture
def doc_dir(tmp_path):
    (tmp_path / "figs").mkdir()
    Image.new("RGB", (400, 250), (200, 30, 30)).save(tmp_path / "figs" / "red.png")
    return tmp_path


def test_every_block_kind_renders_with_its_figure_and_math(doc_dir):
    data, info = markdown_to_pdf(DOC, doc_dir / "out.pdf", base=doc_dir, title="test", source="doc.md")
    assert (doc_dir / "out.pdf").read_bytes() == data
    pages, images = pdf_pages_and_images(data)
    assert pages == info.pages >= 1 and images == 1 and info.images == [doc_dir / "figs" / "red.png"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    flat = " ".join(text.split())
    for needle in ("Title with code", "first item with code", "‖A‖", "√λ_max(AᵀA)", "δ²/γ²", "‖∂h_T/∂h_0‖ ≤ δ^T",
                   "Second section", "a red figure: fabricated for this test", "Rendered from doc.md"):
        assert needle in flat, needle
    assert "results:table" not in flat and "* first item" not in flat  # a marker is not content; a list is a list
    outline = PdfReader(io.BytesIO(data)).outline  # headings are bookmarks: [h1, [h2, ...]]
    assert outline[0].title == "Title with code" and outline[1][0].title == "Second section"


def test_output_is_deterministic(doc_dir):
    first, _ = markdown_to_pdf(DOC, None, base=doc_dir, title="t")
    second, _ = markdown_to_pdf(DOC, None, base=doc_dir, title="t")
    assert first == second


def test_a_missing_image_or_glyph_is_one_clear_error(doc_dir):
    with pytest.raises(UserError, match="missing.png"):
        markdown_to_pdf("![x](missing.png)\n", None, base=doc_dir, title="t")
    with pytest.raises(UserError, match=r"U\+4E2D"):  # CJK: in none of the bundled fonts
        markdown_to_pdf("middle \u4e2d\n", None, base=doc_dir, title="t")


@pytest.mark.parametrize("folder", ["functaset", "autoencoders", "miniplaces", "alexnet_rnn"])
def test_every_character_of_the_answers_has_a_glyph(folder):
    for doc in ("ANSWERS.md", "README.md"):
        assert missing_glyphs((REPO / folder / doc).read_text(encoding="utf-8")) == [], (folder, doc)
    assert missing_glyphs(MATH + "αβγδεθλμρσφωΓΔΣΩ≤≥≠≈∂∇×·ℝ𝔼") == []
