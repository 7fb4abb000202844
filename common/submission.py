"""Hand-in zips: what each handout lists, built from the repository and its committed results.

Each assignment's ``package_submission.py`` says *what* goes in (its handout's list); this
module does the rest once: source files without data/logs/models/checkpoints, the check that
every result the answers link exists (else one ``error:`` line naming the command that makes
it), ANSWERS.md split into parts by its ``##`` headings, PDFs rendered with :mod:`common.pdf`,
and an atomic zip that never replaces an existing file.
"""
from __future__ import annotations

import argparse
import re
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Mapping

from .errors import UserError
from .io import atomic_write

CODE_SUFFIXES = {".py", ".md", ".txt"}
EXCLUDED_DIRS = {"data", "logs", "models", "__pycache__"}
EXCLUDED_SUFFIXES = {".pth", ".pt", ".tar", ".ckpt", ".zip"}
RESULTS_HINT = "make results"  # regenerates every assignment's results/


def excluded(path: Path) -> bool:
    """Data, logs, models, checkpoints and TensorBoard events stay out of every zip."""
    return (bool(EXCLUDED_DIRS & set(path.parts)) or path.suffix in EXCLUDED_SUFFIXES
            or path.name.startswith("events.out.tfevents"))


def files_under(path: Path) -> list[tuple[Path, Path]]:
    """``(file, name relative to path's parent)`` for a file, or for every kept file in a folder."""
    if path.is_file():
        return [(path, Path(path.name))]
    return [(f, f.relative_to(path.parent)) for f in sorted(path.rglob("*"))
            if f.is_file() and not excluded(f.relative_to(path.parent))]


def code_entries(repo: Path, packages: Iterable[str], prefix: str = "", skip: Iterable[str] = ()) -> dict[str, Path]:
    """``prefix/<package>/...`` -> source for the ``.py``/``.md``/``.txt`` files of each package folder.

    ``skip``: paths relative to ``repo`` (e.g. ``functaset/ANSWERS.md``) left out.
    """
    skipped = {Path(s) for s in skip}
    entries = {}
    for package in packages:
        for src, rel in files_under(repo / package):
            if src.suffix in CODE_SUFFIXES and rel not in skipped and "results" not in rel.parts:
                entries[f"{prefix}{rel.as_posix()}"] = src
    return entries


# ----------------------------------------------------------------- results
def local_links(doc: Path) -> list[Path]:
    """Files a markdown doc links (images and plain links), resolved against its folder; no URLs, anchors."""
    text = re.sub(r"```.*?```", "", doc.read_text(encoding="utf-8"), flags=re.S)  # links inside code are text
    # link text may hold one level of balanced brackets, as markdown allows: [a [b] c](target)
    targets = re.findall(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    return [(doc.parent / t.split("#")[0]).resolve() for t in targets
            if "://" not in t and not t.startswith(("#", "mailto:")) and t.split("#")[0]]


def require_results(folder: Path, docs: Iterable[Path], command: str) -> None:
    """UserError naming ``command`` unless ``folder/results`` exists and every result the docs link does."""
    results, root = folder / "results", folder.resolve().parent
    hint = f"make it with `{command}` (or `{RESULTS_HINT}` for every assignment)"
    if not results.is_dir():
        raise UserError(f"{_rel(results, root)} is missing: the hand-in quotes the committed results; {hint}")
    for doc in docs:
        for target in local_links(doc):
            inside = target.is_relative_to(results.resolve())
            if (inside or target.suffix.lower() == ".png") and not target.exists():
                raise UserError(f"{_rel(target, root)} (linked from {_rel(doc, root)}) is missing; {hint}")


def _rel(path: Path, root: Path) -> str:
    """``path`` relative to the repository (never an absolute path in a message or a PDF)."""
    path = Path(path).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name


# ------------------------------------------------------------ ANSWERS parts
def sections(text: str) -> list[tuple[str | None, str]]:
    """``(heading, text)`` per ``## `` section (outside code fences); the part before the first is ``None``."""
    out, heading, lines, fenced = [], None, [], False
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            out.append((heading, "".join(lines)))
            heading, lines = line[3:].strip(), []
        lines.append(line)
    out.append((heading, "".join(lines)))
    return out


def select_sections(text: str, keep: Callable[[str], bool]) -> str:
    """The text before the first ``##`` heading plus every ``##`` section whose heading ``keep`` accepts."""
    parts = sections(text)
    chosen = [body for heading, body in parts if heading is None or keep(heading)]
    if len(chosen) == 1 and len(parts) > 1:
        raise UserError("no section of the answers matches this part: check the ## headings")
    return "".join(chosen)


def is_dry(heading: str) -> bool:
    """The Technion handouts' dry questions: sections headed "Dry ..." (``## Dry part``, ``## Dry 3: ...``)."""
    return heading.lower().startswith("dry")


def is_wet(heading: str) -> bool:
    """Everything that is not a dry answer: the wet report items, the answer map, measurements."""
    return not is_dry(heading)


def render_pdf(doc: Path, text: str, title: str, part: str = "") -> bytes:
    """``text`` (from ``doc``, images relative to its folder) as PDF bytes."""
    from .pdf import markdown_to_pdf

    source = _rel(doc, doc.resolve().parent.parent) + (f" ({part})" if part else "")
    data, _ = markdown_to_pdf(text, None, base=doc.parent, title=title, source=source)
    return data


def wet_dry_entries(folder: Path, course: str, command: str) -> dict[str, Path | bytes]:
    """The Technion hand-in: the assignment's code and ``common/`` (what it imports), ``wet.pdf``, ``dry.pdf``.

    The PDFs are ANSWERS.md split by its ``##`` headings (:func:`is_wet`, :func:`is_dry`), each with
    the text before the first heading (title, what the numbers were measured on).
    """
    answers = folder / "ANSWERS.md"
    require_results(folder, [answers, folder / "README.md"], command)
    text = answers.read_text(encoding="utf-8")
    entries: dict[str, Path | bytes] = dict(code_entries(folder.parent, (folder.name, "common"),
                                                         skip=[f"{folder.name}/ANSWERS.md"]))
    for name, keep in (("wet", is_wet), ("dry", is_dry)):
        entries[f"{name}.pdf"] = render_pdf(answers, select_sections(text, keep), f"{course}: {name} part",
                                            f"the sections of the {name} part")
    return entries


def wet_dry_main(argv, doc: str, folder: Path, course: str) -> Path:
    """A Technion ``package_submission`` command: ``--out ZIP`` holding :func:`wet_dry_entries`."""
    args = parser(doc, "submission.zip").parse_args(argv)
    refuse_existing(args.out)
    entries = wet_dry_entries(folder, course, f"python -m {folder.name}.results")
    write_zip(args.out, entries)
    print(summary(args.out, entries))
    return args.out


# --------------------------------------------------------------------- zip
def parser(doc: str, default_out: str) -> argparse.ArgumentParser:
    """``--out`` (never overwritten) plus the module docstring as help."""
    head, _, rest = doc.partition("\n\n")
    p = argparse.ArgumentParser(description=head, epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path(default_out),
                   help=f"zip to write (default: {default_out}); an existing file is never replaced")
    return p


def refuse_existing(out: Path) -> None:
    if out.exists():
        raise UserError(f"{out} already exists; move it away or pass another --out (a hand-in is never replaced)")


def write_zip(out: Path, entries: Mapping[str, Path | bytes], folders: Iterable[str] = ()) -> Path:
    """Write ``name -> file or bytes`` (sorted; ``folders`` as empty directory entries) atomically."""
    refuse_existing(out)

    def write(tmp: str) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for folder in folders:
                zf.writestr(folder.rstrip("/") + "/", "")
            for name, src in sorted(entries.items()):
                if isinstance(src, bytes):
                    zf.writestr(name, src)
                else:
                    zf.write(src, name)

    return atomic_write(out, write)


def summary(out: Path, entries: Mapping[str, Path | bytes]) -> str:
    """What was written: the zip, its entry count and the non-code entries with sizes."""
    def size(src) -> int:
        return len(src) if isinstance(src, bytes) else src.stat().st_size

    shown = [f"  {name} ({size(src) / 1024:.0f} KiB)" for name, src in sorted(entries.items())
             if not name.endswith((".py", ".md", ".txt"))]
    return f"wrote {out}: {len(entries)} files\n" + "\n".join(shown)
