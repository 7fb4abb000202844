"""Write the hand-in zip the handout asks for: ``code/``, ``writeup/``, ``results/``.

    python -m miniplaces.package_submission                        # -> submission.zip
    python -m miniplaces.package_submission --out hw2.zip --writeup report.pdf \\
        --results logs/miniplaces/simplenet/figures logs/miniplaces/simplenet/metrics.json

``code/student_code.py`` is the self-contained file to drop into the course's ``code/``
folder (it imports nothing from this repository); ``code/miniplaces/`` and
``code/common/`` hold the rest of our code (sources and docs only).  ``writeup/`` gets
``miniplaces/ANSWERS.md`` plus every ``--writeup`` file; ``results/`` gets the
``--results`` files and folders.  Data, logs and models never go in: folders named
``data``/``logs``/``models``, checkpoints (``.pth``, ``.pt``, ``.tar``, ``.ckpt``) and
TensorBoard event files are skipped.  An existing zip is never overwritten.
"""
from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from common.errors import UserError, cli_main
from common.io import atomic_write

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("miniplaces", "common")
CODE_SUFFIXES = {".py", ".md", ".txt"}
EXCLUDED_DIRS = {"data", "logs", "models", "__pycache__"}
EXCLUDED_SUFFIXES = {".pth", ".pt", ".tar", ".ckpt", ".zip"}


def excluded(path: Path) -> bool:
    """Data, logs, models, checkpoints and TensorBoard events stay out of the zip."""
    return (bool(EXCLUDED_DIRS & set(path.parts)) or path.suffix in EXCLUDED_SUFFIXES
            or path.name.startswith("events.out.tfevents"))


def files_under(path: Path) -> list[tuple[Path, Path]]:
    """``(file, name relative to path's parent)`` for a file, or for every kept file in a folder."""
    if path.is_file():
        return [(path, Path(path.name))]
    return [(f, f.relative_to(path.parent)) for f in sorted(path.rglob("*"))
            if f.is_file() and not excluded(f.relative_to(path.parent))]


def plan(writeup: list[Path], results: list[Path]) -> dict[str, Path]:
    """Archive name -> source file."""
    entries = {"code/student_code.py": REPO / "miniplaces" / "student_code.py"}
    for package in PACKAGES:
        for src, rel in files_under(REPO / package):
            if src.suffix in CODE_SUFFIXES and src.name != "student_code.py":
                entries[f"code/{rel.as_posix()}"] = src
    for folder, sources in (("writeup", [REPO / "miniplaces" / "ANSWERS.md", *writeup]), ("results", results)):
        for source in sources:
            if not source.exists():
                raise UserError(f"--{folder} {source}: no such file or folder")
            for src, rel in files_under(source):
                entries[f"{folder}/{rel.as_posix()}"] = src
    return entries


def write_zip(out: Path, entries: dict[str, Path]) -> None:
    def write(tmp: str) -> None:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for folder in ("code/", "writeup/", "results/"):
                zf.writestr(folder, "")  # the three folders exist even when empty
            for name, src in sorted(entries.items()):
                zf.write(src, name)

    atomic_write(out, write)


@cli_main
def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("submission.zip"),
                        help="zip to write (default: submission.zip)")
    parser.add_argument("--writeup", type=Path, nargs="*", default=[], help="report files or folders (e.g. report.pdf)")
    parser.add_argument("--results", type=Path, nargs="*", default=[], help="result files or folders (e.g. figures)")
    args = parser.parse_args(argv)
    if args.out.exists():
        raise UserError(f"{args.out} already exists; move it away or pass another --out")
    entries = plan(args.writeup, args.results)
    write_zip(args.out, entries)
    print(f"wrote {args.out}: {len(entries)} files (code/student_code.py drops into the course's code/ folder)")
    return args.out


if __name__ == "__main__":
    main()
