"""Markdown to PDF, offline: the hand-in PDFs are rendered from each folder's ANSWERS.md.

    from common.pdf import markdown_to_pdf
    markdown_to_pdf(text, "wet.pdf", base=Path("functaset"), title="functaset: wet part")

Python-Markdown (tables, fenced code) turns the text into HTML; this module walks that HTML
and lays it out with ReportLab's Platypus, a layout engine for flowing documents: headings
(also as the PDF's outline), paragraphs with bold/italic/``code``/links, bullet and numbered
lists, tables whose cells wrap and split across pages (header repeated), code blocks (long
lines wrapped), and local PNGs scaled to the page, kept on one page with their caption.
Text is set in the DejaVu fonts that matplotlib ships (Greek, arrows, math operators,
sub/superscripts); a character DejaVu lacks is taken from matplotlib's STIX fonts, and one
that neither has stops the rendering with its code point (:func:`missing_glyphs`), so a PDF
never shows a tofu box.  HTML comments (the ``<!-- results:NAME -->`` markers) are dropped.
Output is deterministic (ReportLab's invariant mode: no timestamp) and written atomically.
"""
from __future__ import annotations

import functools
import io
import os
import re
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.fonts import addMapping
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (CondPageBreak, HRFlowable, Image, Indenter, KeepTogether, ListFlowable, ListItem,
                                Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle, XPreformatted)

from .errors import UserError
from .io import atomic_write

BODY, BOLD, ITALIC, BOLD_ITALIC = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique"
MONO, MONO_BOLD, MONO_ITALIC = "DejaVuSansMono", "DejaVuSansMono-Bold", "DejaVuSansMono-Oblique"
MONO_BOLD_ITALIC, FALLBACK = "DejaVuSansMono-BoldOblique", "STIXGeneral"
FACES = {(False, False, False): BODY, (True, False, False): BOLD, (False, True, False): ITALIC,
         (True, True, False): BOLD_ITALIC, (False, False, True): MONO, (True, False, True): MONO_BOLD,
         (False, True, True): MONO_ITALIC, (True, True, True): MONO_BOLD_ITALIC}
MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists")


# ------------------------------------------------------------------ fonts
def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@functools.lru_cache(maxsize=None)
def register_fonts() -> None:
    """Register the DejaVu families (body and mono, four styles each) and the STIX fallback."""

    for name in (*FACES.values(), FALLBACK):
        pdfmetrics.registerFont(TTFont(name, str(_font_dir() / f"{name}.ttf")))
    for family, mono in ((BODY, False), (MONO, True)):  # <b>/<i> inside a paragraph pick the right face
        for bold in (False, True):
            for italic in (False, True):
                addMapping(family, int(bold), int(italic), FACES[(bold, italic, mono)])


@functools.lru_cache(maxsize=None)
def _cmap(face: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont as FontFile

    with FontFile(_font_dir() / f"{face}.ttf", lazy=True) as font:
        return frozenset(font.getBestCmap())


def face_for(char: str, face: str) -> str | None:
    """The font that draws ``char``: ``face`` itself, else the plain body font, else STIX; None if none can."""
    if char in "\n\t" or ord(char) < 32:
        return face
    for candidate in (face, BODY, FALLBACK):
        if ord(char) in _cmap(candidate):
            return candidate
    return None


def missing_glyphs(text: str) -> list[str]:
    """``U+XXXX 'c'`` for every character of ``text`` that no bundled font can draw, in any style."""
    missing = {c for c in set(text) if any(face_for(c, f) is None for f in FACES.values())}
    return [f"U+{ord(c):04X} {c!r}" for c in sorted(missing)]


def _glyph_runs(text: str, face: str) -> str:
    """Escaped para-markup for ``text`` in ``face``, characters it lacks wrapped in a fallback font."""
    out, run, run_face = [], [], face

    def flush():
        if run:
            chunk = escape("".join(run), quote=False)
            out.append(chunk if run_face == face else f'<font name="{run_face}">{chunk}</font>')
            run.clear()

    for char in text:
        chosen = face_for(char, face)
        if chosen is None:
            raise UserError(f"no bundled font has the character U+{ord(char):04X} {char!r}; "
                            "write it another way in the markdown")
        if chosen != run_face:
            flush()
            run_face = chosen
        run.append(char)
    flush()
    return "".join(out)


# --------------------------------------------------------------- HTML tree
@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list = field(default_factory=list)  # Node or str

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def elements(self) -> list["Node"]:
        return [c for c in self.children if isinstance(c, Node)]


_VOID = {"img", "br", "hr", "meta", "input"}


class _TreeBuilder(HTMLParser):
    """Python-Markdown's HTML as a tree of :class:`Node` (comments dropped)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):  # tolerate unclosed inner tags
            if self.stack[i].tag == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def markdown_tree(text: str) -> Node:
    import markdown

    text = _gfm_lists(re.sub(r"<!--.*?-->", "", text, flags=re.S))  # block markers and notes: not content
    builder = _TreeBuilder()
    builder.feed(markdown.markdown(text, extensions=list(MARKDOWN_EXTENSIONS)))
    builder.close()
    return builder.root


_LIST_ITEM = re.compile(r"^ {0,3}([*+-]|1[.)])\s")


def _gfm_lists(text: str) -> str:
    """A blank line before a list that directly follows a paragraph line: GitHub starts a list
    there, Python-Markdown would keep the items inside the paragraph."""
    out, fenced, list_seen = [], False, False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced:
            if not line.strip():
                list_seen = False
            elif _LIST_ITEM.match(line):
                if out and out[-1].strip() and not list_seen:
                    out.append("")
                list_seen = True
        out.append(line)
    return "\n".join(out)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading (``## Wet 1. Overview`` -> ``wet-1-overview``)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


# ----------------------------------------------------------------- styles
def _styles() -> dict:
    body = ParagraphStyle("body", fontName=BODY, fontSize=9.5, leading=12.5, spaceAfter=5)
    styles = {"body": body,
              "caption": ParagraphStyle("caption", parent=body, fontSize=8.5, leading=11, alignment=1,
                                        textColor=colors.HexColor("#333333"), spaceAfter=9),
              "cell": ParagraphStyle("cell", parent=body, fontSize=7.8, leading=9.6, spaceAfter=0),
              "code": ParagraphStyle("code", parent=body, fontName=MONO, fontSize=7.6, leading=9.4,
                                     backColor=colors.HexColor("#f3f3f3"), borderPadding=(3, 4, 3, 4),
                                     spaceBefore=4, spaceAfter=8),
              "quote": ParagraphStyle("quote", parent=body, leftIndent=12, textColor=colors.HexColor("#444444")),
              "title": ParagraphStyle("title", parent=body, fontSize=8.5, textColor=colors.HexColor("#555555"),
                                      spaceAfter=10)}
    for level, size in enumerate((17, 14, 12, 10.5, 10, 9.5), start=1):
        styles[f"h{level}"] = ParagraphStyle(f"h{level}", parent=body, fontName=BOLD, fontSize=size,
                                             leading=size * 1.25, spaceBefore=size * 0.9, spaceAfter=size * 0.4)
    return styles


# ------------------------------------------------------------ the renderer
class _Renderer:
    """HTML tree -> list of Platypus flowables."""

    def __init__(self, base: Path, width: float, height: float, anchors: set[str]):
        self.base, self.width, self.height, self.anchors = base, width, height, anchors
        self.styles = _styles()
        self.images: list[Path] = []

    # ---- inline content -> ReportLab para markup
    def inline(self, node: Node | str, bold=False, italic=False, mono=False) -> str:
        if isinstance(node, str):
            text = node if mono else re.sub(r"\s+", " ", node)
            return _glyph_runs(text, FACES[(bold, italic, mono)])
        tag = node.tag
        if tag in ("strong", "b"):
            return f"<b>{self._children(node, True, italic, mono)}</b>"
        if tag in ("em", "i"):
            return f"<i>{self._children(node, bold, True, mono)}</i>"
        if tag == "code":
            return f'<font name="{FACES[(bold, italic, True)]}">{self._children(node, bold, italic, True)}</font>'
        if tag == "br":
            return "<br/>"
        if tag in ("sub", "sup"):
            markup = "sub" if tag == "sub" else "super"
            return f"<{markup}>{self._children(node, bold, italic, mono)}</{markup}>"
        if tag == "a":
            return self._link(node, bold, italic, mono)
        if tag == "img":
            return ""  # images are blocks (see paragraph)
        return self._children(node, bold, italic, mono)

    def _children(self, node: Node, bold, italic, mono) -> str:
        return "".join(self.inline(c, bold, italic, mono) for c in node.children)

    def _link(self, node: Node, bold, italic, mono) -> str:
        inner = self._children(node, bold, italic, mono)
        href = node.attrs.get("href", "")
        if href.startswith(("http://", "https://", "mailto:")):
            return f'<a href="{escape(href)}" color="#1a4f9c">{inner}</a>'
        if href.startswith("#") and href[1:] in self.anchors:
            return f'<a href="{escape(href)}" color="#1a4f9c">{inner}</a>'
        return inner  # a link to a file of the repository, or to a section not in this PDF: its text

    # ---- blocks
    def blocks(self, node: Node) -> list:
        out = []
        elements = node.children
        for i, child in enumerate(elements):
            if isinstance(child, str):
                if child.strip():
                    out.append(self.paragraph(child, self.styles["body"]))
                continue
            out += self.block(child, elements[i + 1:])
        return out

    def block(self, node: Node, following: list) -> list:
        tag = node.tag
        if re.fullmatch(r"h[1-6]", tag):  # a heading never ends a page: start a new one when little is left
            return [CondPageBreak(0.12 * self.height), self.heading(node)]
        if tag == "p":
            return self.p(node, following)
        if tag in ("ul", "ol"):
            return [self.list(node)]
        if tag == "pre":
            return [self.code(node.text())]
        if tag == "table":
            return [self.table(node), Spacer(1, 6)]
        if tag == "blockquote":
            inner = Node("root", children=node.children)
            return [self._quoted(f) for f in self.blocks(inner)]
        if tag == "hr":
            return [HRFlowable(width="100%", thickness=0.5, spaceBefore=4, spaceAfter=6)]
        if tag == "img":
            return [self.image(node)]
        return self.blocks(node)

    def paragraph(self, content: Node | str, style):
        markup = self.inline(content) if isinstance(content, str) else self._children(content, False, False, False)
        return Paragraph(markup.strip(), style)

    def heading(self, node: Node):
        level = int(node.tag[1])
        text = node.text().strip()
        markup = f'<a name="{slug(text)}"/>' + self._children(node, False, False, False).strip()
        para = self.paragraph_markup(markup, self.styles[f"h{level}"])
        para.outline = (level, text)
        return para

    def paragraph_markup(self, markup: str, style):
        return Paragraph(markup, style)

    def p(self, node: Node, following: list) -> list:
        """A paragraph; an image in it becomes a figure, kept with a caption paragraph that follows."""

        images = [c for c in node.elements() if c.tag == "img"]
        if not images:
            style = self.styles["caption"] if getattr(node, "caption", False) else self.styles["body"]
            return [self.paragraph(node, style)]
        flowables = [self.image(img) for img in images]
        text = Node("p", children=[c for c in node.children if not (isinstance(c, Node) and c.tag == "img")])
        if text.text().strip():
            flowables.insert(0, self.paragraph(text, self.styles["body"]))
        caption = self._caption_after(following)
        if caption is not None:
            caption.caption = True  # rendered in the caption style when its turn comes
        return [KeepTogether(flowables)] if caption is None else [_Figure(flowables)]

    @staticmethod
    def _caption_after(following: list) -> Node | None:
        """The next block, if it is a paragraph that is all emphasis (``*caption*``)."""
        for item in following:
            if isinstance(item, str) and not item.strip():
                continue
            if isinstance(item, Node) and item.tag == "p":
                kids = [c for c in item.children if not (isinstance(c, str) and not c.strip())]
                if len(kids) == 1 and isinstance(kids[0], Node) and kids[0].tag in ("em", "i"):
                    return item
            return None
        return None

    def image(self, node: Node):
        src = node.attrs.get("src", "")
        path = (self.base / src).resolve()
        if "://" in src or not path.is_file():
            raise UserError(f"image {src} linked from the markdown (relative to {self.base.name or '.'}/) is "
                            "missing; generate it (the folder's results command) before rendering")
        with PILImage.open(path) as img:
            (w_px, h_px), dpi = img.size, img.info.get("dpi", (100, 100))[0] or 100
        width = w_px / float(dpi) * 72  # points at the figure's own resolution
        scale = min(1.0, self.width / width, 0.62 * self.height / (h_px / float(dpi) * 72))
        self.images.append(path)
        flowable = Image(str(path), width=width * scale, height=h_px / float(dpi) * 72 * scale)
        flowable.hAlign = "CENTER"
        return flowable

    def list(self, node: Node, depth: int = 0):
        items = []
        for li in (c for c in node.elements() if c.tag == "li"):
            inline, flowables = [], []
            for child in li.children:
                if isinstance(child, Node) and child.tag in ("ul", "ol"):
                    flowables.append(self.list(child, depth + 1))
                elif isinstance(child, Node) and child.tag in ("p", "pre", "table", "blockquote"):
                    flowables += self.block(child, [])
                else:
                    inline.append(child)
            if any(isinstance(c, Node) or c.strip() for c in inline):
                flowables.insert(0, self.paragraph(Node("p", children=inline), self.styles["body"]))
            items.append(ListItem(flowables or [self.paragraph("", self.styles["body"])]))
        ordered = node.tag == "ol"
        kind = {"bulletType": "1", "start": int(node.attrs.get("start") or 1)} if ordered else {
            "bulletType": "bullet", "start": "\u2022", "bulletFontSize": 7, "bulletOffsetY": -1}
        return ListFlowable(items, leftIndent=14, bulletFontName=BODY, spaceAfter=4, **kind)

    def code(self, text: str):
        """A code block in the mono font; lines longer than the frame are broken with a hanging indent."""

        style = self.styles["code"]
        columns = int((self.width - 10) / stringWidth("M", MONO, style.fontSize))
        lines = []
        for line in text.rstrip("\n").split("\n"):
            while len(line) > columns:
                lines.append(line[:columns])
                line = "  " + line[columns:]
            lines.append(line)
        return XPreformatted("\n".join(_glyph_runs(line, MONO) for line in lines), style)

    def table(self, node: Node):
        rows = [tr for tr in _descendants(node, "tr")]
        cells = [[c for c in tr.elements() if c.tag in ("th", "td")] for tr in rows]
        ncols = max(len(r) for r in cells)
        header = 1 if rows and all(c.tag == "th" for c in cells[0]) else 0
        data = []
        for r, row in enumerate(cells):
            style = self.styles["cell"]
            paras = [self.paragraph_markup(("<b>%s</b>" if r < header else "%s")
                                           % self._children(c, False, False, False).strip(), style) for c in row]
            data.append(paras + [""] * (ncols - len(paras)))
        widths = _column_widths([[c.text() for c in row] for row in cells], ncols, self.width, header)
        table = Table(data, colWidths=widths, repeatRows=header, hAlign="LEFT")
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                                   ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                                   *([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8"))] if header
                                     else [])]))
        return table

    def _quoted(self, flowable):
        return [Indenter(12), flowable, Indenter(-12)]


def _descendants(node: Node, tag: str) -> list[Node]:
    out = []
    for child in node.elements():
        if child.tag == tag:
            out.append(child)
        else:
            out += _descendants(child, tag)
    return out


def _column_widths(texts: list[list[str]], ncols: int, total: float, header: int = 0) -> list[float]:
    """HTML-like automatic layout: each column between its longest word and its longest cell."""

    size, pad = 7.8, 8
    longest, word = [pad + 12.0] * ncols, [pad + 12.0] * ncols
    for r, row in enumerate(texts):
        font = BOLD if r < header else BODY
        for j, text in enumerate(row):
            longest[j] = max(longest[j], pad + stringWidth(text.strip(), font, size))
            words = text.split() or [""]
            word[j] = max(word[j], pad + min(max(stringWidth(w, font, size) for w in words), total / 3))
    if sum(longest) <= total:
        return [w * total / sum(longest) for w in longest] if sum(longest) > 0.8 * total else longest
    if sum(word) >= total:
        return [w * total / sum(word) for w in word]
    spare, slack = total - sum(word), [lo - wo for lo, wo in zip(longest, word)]
    return [wo + spare * s / sum(slack) for wo, s in zip(word, slack)]


class _Figure(KeepTogether):
    """Image(s) plus the caption paragraph after them, kept on one page (see :func:`_join_captions`)."""


def _join_captions(flowables: list) -> list:
    """Move each caption paragraph that follows a figure into that figure's KeepTogether."""
    out = []
    for f in flowables:
        if out and isinstance(out[-1], _Figure) and not getattr(out[-1], "_captioned", False):
            out[-1]._content.append(f)
            out[-1]._captioned = True
            continue
        out.append(f)
    return out


# ------------------------------------------------------------------- entry
@dataclass
class PdfInfo:
    path: Path | None
    pages: int
    images: list[Path]


def markdown_to_pdf(text: str, out: str | os.PathLike | None, *, base: str | os.PathLike, title: str,
                    source: str = "") -> tuple[bytes, PdfInfo]:
    """Render markdown ``text`` (image paths relative to ``base``) to a PDF; write it to ``out`` if given.

    ``title`` goes in the PDF metadata and the running header; ``source`` (e.g. "functaset/ANSWERS.md")
    is named under the first heading.  Returns the PDF bytes and what went in.
    """

    register_fonts()
    missing = missing_glyphs(text)
    if missing:
        raise UserError(f"no bundled font has {', '.join(missing)}; write them another way in the markdown")
    tree = markdown_tree(text)
    anchors = {slug(h.text()) for h in _descendants(tree, "h1") + _descendants(tree, "h2")
               + _descendants(tree, "h3") + _descendants(tree, "h4")}
    margin = 17 * mm
    width, height = A4[0] - 2 * margin, A4[1] - 2 * margin - 8 * mm
    renderer = _Renderer(Path(base), width, height, anchors)
    story = _join_captions(_flatten(renderer.blocks(tree)))
    if source:
        first = next((i + 1 for i, f in enumerate(story[:3]) if getattr(f, "outline", None)), 0)
        story.insert(first, renderer.paragraph_markup(escape(f"Rendered from {source}."), renderer.styles["title"]))
    buffer = io.BytesIO()
    pages = _build(buffer, story, title, margin)
    data = buffer.getvalue()
    if out is not None:
        atomic_write(out, lambda tmp: Path(tmp).write_bytes(data))
    return data, PdfInfo(Path(out) if out is not None else None, pages, renderer.images)


def _flatten(items: list) -> list:
    out = []
    for item in items:
        out += _flatten(item) if isinstance(item, list) else [item]
    return out


def _build(buffer, story: list, title: str, margin: float) -> int:
    class Doc(SimpleDocTemplate):
        def afterFlowable(self, flowable):  # headings become the PDF outline (bookmarks)
            outline = getattr(flowable, "outline", None)
            if outline:
                level, text = outline
                key = f"h{id(flowable)}"
                self.canv.bookmarkPage(key)
                self.canv.addOutlineEntry(text, key, level=min(level - 1, self._outline_level + 1), closed=level > 2)
                self._outline_level = min(level - 1, self._outline_level + 1)

    def decorate(canvas, doc):
        canvas.saveState()
        canvas.setFont(BODY, 7.5)
        canvas.setFillGray(0.35)
        canvas.drawString(margin, A4[1] - margin + 4, _glyph_safe(title))
        canvas.drawRightString(A4[0] - margin, margin - 14, f"page {doc.page}")
        canvas.restoreState()

    doc = Doc(buffer, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin + 8,
              bottomMargin=margin, title=title, author="", subject=title, creator="common.pdf", invariant=1)
    doc._outline_level = -1
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return doc.page


def _glyph_safe(text: str) -> str:
    return "".join(c if face_for(c, BODY) == BODY else "?" for c in text)


def pdf_pages_and_images(data: bytes) -> tuple[int, int]:
    """(pages, embedded images) of a PDF, read back with pypdf (used by tests and reports)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), sum(len(page.images) for page in reader.pages)
