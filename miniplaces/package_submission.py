"""Write the hand-in zip the handout asks for: ``code/``, ``writeup/``, ``results/``.

    python -m miniplaces.package_submission                        # -> submission.zip
    python -m miniplaces.package_submission --out hw2.zip --writeup extra.pdf \\
        --results logs/miniplaces/simplenet/figures logs/miniplaces/simplenet/metrics.json

``code/student_code.py`` is the self-contained file to drop into the course's ``code/``
folder (it imports nothing from this repository); ``code/miniplaces/`` and
``code/common/`` hold the rest of our code (sources and docs only).  ``writeup/`` holds
``writeup.pdf``, rendered from ``miniplaces/ANSWERS.md`` with its figures (training
curves, evaluation tables, adversarial samples from the committed ``miniplaces/results/``),
the markdown itself, and every ``--writeup`` file; ``results/`` holds the committed
``miniplaces/results/`` (metrics JSON and figures) plus the ``--results`` files and folders.
Data, logs and models never go in: folders named ``data``/``logs``/``models``, checkpoints
(``.pth``, ``.pt``, ``.tar``, ``.ckpt``) and TensorBoard event files are skipped.  Missing
results stop it with the command that makes them; an existing zip is never overwritten.
"""
from __future__ import annotations

from pathlib import Path

from common.errors import UserError, cli_main
from common.submission import (code_entries, files_under, parser, refuse_existing, render_pdf, require_results,
                               summary, write_zip)

FOLDER = Path(__file__).resolve().parent
FOLDERS = ("code/", "writeup/", "results/")


def plan(writeup: list[Path], results: list[Path], folder: Path | None = None) -> dict[str, Path | bytes]:
    """Archive name -> source file (or the rendered PDF's bytes)."""
    folder = folder or FOLDER
    answers = folder / "ANSWERS.md"
    require_results(folder, [answers, folder / "README.md"], "python -m miniplaces.results")
    entries: dict[str, Path | bytes] = {"code/student_code.py": folder / "student_code.py"}
    entries.update(code_entries(folder.parent, (folder.name, "common"), prefix="code/",
                                skip=[f"{folder.name}/student_code.py"]))
    entries["writeup/writeup.pdf"] = render_pdf(answers, answers.read_text(encoding="utf-8"),
                                                "BMI/CS 771 HW2 writeup (MiniPlaces)")
    for prefix, sources in (("writeup", [answers, *writeup]), ("results", [folder / "results", *results])):
        for source in sources:
            if not source.exists():
                raise UserError(f"--{prefix} {source}: no such file or folder")
            for src, rel in files_under(source):
                rel = rel.relative_to("results") if source == folder / "results" else rel
                entries[f"{prefix}/{rel.as_posix()}"] = src
    return entries


@cli_main
def main(argv=None) -> Path:
    p = parser(__doc__, "submission.zip")
    p.add_argument("--writeup", type=Path, nargs="*", default=[], help="extra report files or folders")
    p.add_argument("--results", type=Path, nargs="*", default=[], help="extra result files or folders")
    args = p.parse_args(argv)
    refuse_existing(args.out)
    entries = plan(args.writeup, args.results)
    write_zip(args.out, entries, FOLDERS)
    print(summary(args.out, entries) + "\n(code/student_code.py drops into the course's code/ folder)")
    return args.out


if __name__ == "__main__":
    main()
