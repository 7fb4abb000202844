"""Write the COMP 499/691 hand-in: a PDF of the answers with code and output, and the single runnable notebook.

    python -m alexnet_rnn.package_submission --out a2.zip

The zip holds two files, as the handout asks.  ``assignment2.pdf``: ANSWERS.md rendered
offline with its figures from the committed ``alexnet_rnn/results/``, then two appendices
taken from the executed notebook: A, every answer cell with its printed output and figures;
B, the assignment's code (the ``alexnet_rnn`` modules as inlined in the notebook; the engine
pieces from ``common/`` are in the notebook too).  ``assignment2.ipynb``: the executed,
standalone notebook.  Missing results, or a notebook that is stale or not executed, stop it
with the command that makes them; an existing zip is never overwritten.
"""
from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path

from common.errors import UserError, cli_main
from common.submission import parser, refuse_existing, render_pdf, require_results, summary, write_zip

FOLDER = Path(__file__).resolve().parent
TITLE = "COMP 499/691 Assignment 2"


def notebook_checked(folder: Path):
    """The executed notebook, or a UserError naming the command that (re)builds it."""
    import nbformat

    from alexnet_rnn import build_notebook

    path = folder / "assignment2.ipynb"
    hint = "build and execute it with `python -m alexnet_rnn.build_notebook`"
    reason = build_notebook.stale(path)
    if reason:
        raise UserError(f"alexnet_rnn/{path.name} is stale or missing ({reason}); {hint}")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or any(c.execution_count is None for c in code):
        raise UserError(f"alexnet_rnn/{path.name} has cells that were never executed; {hint}")
    return path, nb


def appendix(nb, images: Path) -> str:
    """Markdown of the notebook's answer cells (code, printed output, figures written to ``images``)
    and of its alexnet_rnn code cells."""
    answers, code, started = [], [], False
    for cell in nb.cells:
        source = cell.source.strip()
        if cell.cell_type == "code" and source.startswith("# ---- "):
            if source.startswith("# ---- alexnet_rnn/"):
                code.append(f"```python\n{source}\n```\n")
            continue
        started = started or (cell.cell_type == "code" and "SETTINGS" in source)
        if not started:
            continue
        if cell.cell_type == "markdown":
            answers.append(re.sub(r"^(#+) ", r"#\1 ", source, flags=re.M) + "\n")
        else:
            answers.append(f"```python\n{source}\n```\n")
            answers += _outputs(cell, images, len(answers))
    return ("\n## Appendix A: the notebook's answer cells and their output\n\n"
            "Copied from the executed `assignment2.ipynb` (the library code it runs is in Appendix B and, "
            "complete, in the notebook).\n\n" + "\n".join(answers)
            + "\n## Appendix B: the assignment's code, as inlined in the notebook\n\n" + "\n".join(code))


def _outputs(cell, images: Path, index: int) -> list[str]:
    """Printed text (consecutive prints as one block) and figures of one executed cell."""
    out, text = [], []
    for k, output in enumerate(cell.outputs):
        if output.output_type == "stream" and output.name == "stdout":
            text.append(output.text)
            continue
        if "".join(text).strip():
            out.append(f"```\n{''.join(text).rstrip()}\n```\n")
        text = []
        png = output.get("data", {}).get("image/png")
        if png:
            path = images / f"cell{index}_{k}.png"
            path.write_bytes(base64.b64decode(png))
            out.append(f"![figure shown by the cell above]({path.as_posix()})\n")
    if "".join(text).strip():
        out.append(f"```\n{''.join(text).rstrip()}\n```\n")
    return out


def plan(folder: Path | None = None) -> dict[str, Path | bytes]:
    folder = folder or FOLDER
    answers = folder / "ANSWERS.md"
    require_results(folder, [answers, folder / "README.md"], "python -m alexnet_rnn.results")
    notebook, nb = notebook_checked(folder)
    with tempfile.TemporaryDirectory(prefix="a2_pdf_") as tmp:
        text = answers.read_text(encoding="utf-8") + "\n" + appendix(nb, Path(tmp))
        pdf = render_pdf(answers, text, TITLE, "with the notebook's code and output appended")
    return {"assignment2.pdf": pdf, "assignment2.ipynb": notebook}


@cli_main
def main(argv=None) -> Path:
    args = parser(__doc__, "submission.zip").parse_args(argv)
    refuse_existing(args.out)
    entries = plan()
    write_zip(args.out, entries)
    print(summary(args.out, entries))
    return args.out


if __name__ == "__main__":
    main()
