"""Build assignment2.ipynb: one standalone notebook, generated from the package sources and executed.

    python -m alexnet_rnn.build_notebook                   # CPU settings, executed offline, written in place
    python -m alexnet_rnn.build_notebook --check           # exit 1 if the committed notebook is stale
    python -m alexnet_rnn.build_notebook --settings quick --out /tmp/nb.ipynb

The answer cells come from ``notebook_cells.py``; their repository imports are replaced by the
code of every definition they reach (``common/inline.py``: alexnet_rnn modules and the
``common/`` pieces they use, in dependency order, each once; a name defined by two modules
stops the build).  The notebook is then executed in a fresh kernel, in a temporary folder
where this repository cannot be imported (``common`` and ``alexnet_rnn`` are blocked), and
written atomically with its outputs and figures.  ``--check`` compares the committed cells
with what the current sources give, without executing anything.
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from common.errors import UserError, cli_main

FOLDER = Path(__file__).resolve().parent
NOTEBOOK = FOLDER / "assignment2.ipynb"
TEMPLATE = FOLDER / "notebook_cells.py"
SETTINGS = ("quick", "cpu", "course")
BLOCKED = ("common", "alexnet_rnn")  # what a grader's machine does not have
LIBRARY_INTRO = """## The code (inlined from the repository)

Every definition the answers below use, copied from this repository's modules in dependency order
(one cell per module, its path in the first line) by `python -m alexnet_rnn.build_notebook`: the
AlexNet helpers and the attack (`alexnet_rnn/predict.py`, `adversarial.py`), the language model
(`lm_data.py`, `ngram.py`, `rnn_lm.py`), the BPTT measurement (`bptt.py`), the position-wise FFN
(`position_ffn.py`), the receptive-field arithmetic (`receptive_field.py`), and the training loop,
checkpointing, device and plotting pieces of the shared engine (`common/`) that they call."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=NOTEBOOK, help="notebook to write (default: %(default)s)")
    p.add_argument("--settings", choices=SETTINGS, default="cpu",
                   help="what the executed outputs use: quick (seconds), cpu (minutes on 2 cores), course (a GPU)")
    p.add_argument("--check", action="store_true", help="only compare --out with the current sources (exit 1 if stale)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds one cell may run")
    return p


# ------------------------------------------------------------- the template
def template_cells(path: Path = TEMPLATE) -> list[tuple[str, str]]:
    """``(kind, source)`` per cell of the percent-format template (text before the first marker dropped).

    ``# %% [setup]`` marks a code cell that runs before the inlined library (its first cells)."""
    cells, kind, lines = [], None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        marker = re.fullmatch(r"# %%(?: \[(markdown|setup)\])?", line.strip())
        if marker:
            if kind is not None:
                cells.append((kind, "\n".join(lines).strip("\n")))
            kind, lines = marker.group(1) or "code", []
        elif kind == "markdown":
            lines.append(re.sub(r"^# ?", "", line))
        elif kind in ("code", "setup"):
            lines.append(line)
    if kind is not None:
        cells.append((kind, "\n".join(lines).strip("\n")))
    return cells


def split_repository_imports(source: str) -> tuple[str, dict[str, list[str]]]:
    """A code cell without its repository imports, and ``{module: [names]}`` they imported."""
    from common.inline import PACKAGES

    tree = ast.parse(source)
    drop, wanted = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
            for alias in node.names:
                if alias.asname and alias.asname != alias.name:
                    raise UserError(f"{TEMPLATE.name}: `{alias.name} as {alias.asname}` cannot be inlined")
                wanted.setdefault(node.module, []).append(alias.name)
            drop.update(range(node.lineno, node.end_lineno + 1))
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] in PACKAGES for a in node.names):
            raise UserError(f"{TEMPLATE.name}:{node.lineno}: import names from the package, not the module")
    return _remove_lines(source, drop), wanted


def _remove_lines(source: str, drop: set[int]) -> str:
    """``source`` without the 1-based lines ``drop``; a blank line left next to another by a removal goes too."""
    kept, removed = [], False
    for i, line in enumerate(source.splitlines(), 1):
        if i in drop:
            removed = True
            continue
        if removed and not line.strip() and (not kept or not kept[-1].strip()):
            continue
        removed = removed and not line.strip()
        kept.append(line)
    return "\n".join(kept).strip("\n")


def _bound_names(source: str) -> dict[str, str]:
    """Top-level name -> how a cell binds it (the import statement, or "defined")."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                out[name] = ast.unparse(ast.Import(names=[alias]) if isinstance(node, ast.Import) else
                                        ast.ImportFrom(module=node.module, names=[alias], level=node.level))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = "defined"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                out.update({n.id: "defined" for n in ast.walk(target) if isinstance(n, ast.Name)})
    return out


# ------------------------------------------------------------- the notebook
def build_cells() -> list:
    """The notebook's cells (no outputs) from the template and the current package sources."""
    import nbformat.v4 as nbf

    from common.inline import InlineError, inline

    template, wanted = [], {}
    cells_in = template_cells()
    setup = [nbf.new_code_cell(source) for kind, source in cells_in if kind == "setup"]
    for kind, source in (cell for cell in cells_in if cell[0] != "setup"):
        if kind == "code":
            source, imports = split_repository_imports(source)
            for module, names in imports.items():
                wanted.setdefault(module, []).extend(n for n in names if n not in wanted.get(module, []))
        template.append((kind, source))
    try:
        library = inline(wanted)
    except InlineError as err:
        raise UserError(f"cannot inline the package into the notebook: {err}") from None
    _check_answer_names(template, library)
    template = [(kind, _drop_imports(source, library.imports) if kind == "code" else source)
                for kind, source in template]
    first_markdown = template[0][1] if template and template[0][0] == "markdown" else None
    cells = [nbf.new_markdown_cell(first_markdown)] if first_markdown else []
    cells.append(nbf.new_markdown_cell(LIBRARY_INTRO))
    first = [*setup, nbf.new_code_cell(library.header())]
    # A __future__ import must open the notebook's first code cell (the inlined annotations stay unevaluated).
    first[0].source = "from __future__ import annotations\n\n" + first[0].source
    cells += first
    for module, source in library.modules:
        cells.append(nbf.new_code_cell(f"# ---- {module.replace('.', '/')}.py\n\n{source}"))
    for kind, source in template[1 if first_markdown else 0:]:
        cells.append(nbf.new_markdown_cell(source) if kind == "markdown" else nbf.new_code_cell(source))
    return cells


def _check_answer_names(template, library) -> None:
    """An answer cell must not rebind a name the inlined code defines or imports differently."""
    defined = {name for _, source in library.modules for name in _bound_names(source)}
    imported = {}
    for statement in library.imports:
        imported.update(_bound_names(statement))
    for kind, source in template:
        if kind != "code":
            continue
        for name, how in _bound_names(source).items():
            if name in defined or (name in imported and imported[name] != how):
                raise UserError(f"name collision: notebook_cells.py binds {name!r}, which the inlined code "
                                f"{'defines' if name in defined else 'imports as ' + imported[name]}; rename it")


def _drop_imports(source: str, library_imports: list[str]) -> str:
    """Leave out a cell's imports that the library cell already makes, word for word."""
    have = {}
    for statement in library_imports:
        have.update(_bound_names(statement))
    drop = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound = _bound_names(ast.unparse(node))
            if all(have.get(name) == how for name, how in bound.items()):
                drop.update(range(node.lineno, node.end_lineno + 1))
    return _remove_lines(source, drop)


def new_notebook():
    import nbformat.v4 as nbf

    nb = nbf.new_notebook(cells=build_cells())
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    return nb


def cell_sources(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def stale(path: Path = NOTEBOOK) -> str | None:
    """Why ``path`` differs from what the sources give now (None when current)."""
    import nbformat

    if not path.is_file():
        return f"{path.name} does not exist"
    committed, wanted = cell_sources(nbformat.read(path, as_version=4)), cell_sources(new_notebook())
    if committed == wanted:
        return None
    first = next((i for i, (a, b) in enumerate(zip(committed, wanted)) if a != b), min(len(committed), len(wanted)))
    return f"{path.name} differs from the sources from cell {first + 1} on ({len(committed)} vs {len(wanted)} cells)"


def execute(nb, settings: str, timeout: int = 3600, workdir: Path | None = None):
    """Run every cell in a fresh kernel, in a folder where this repository cannot be imported."""
    import nbclient

    with tempfile.TemporaryDirectory(prefix="a2_notebook_") as tmp:
        startup = Path(tmp) / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-no-repository.py").write_text(
            "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in BLOCKED))
        cwd = workdir or Path(tmp) / "run"
        cwd.mkdir(parents=True, exist_ok=True)
        env = {"IPYTHONDIR": str(Path(tmp) / "ipython"), "A2_SETTINGS": settings}
        saved = {k: os.environ.get(k) for k in (*env, "A2_OUT", "A2_PTB", "A2_WEIGHTS")}
        os.environ.update(env)
        for key in ("A2_OUT", "A2_PTB", "A2_WEIGHTS"):  # the committed run uses the defaults
            os.environ.pop(key, None)
        try:
            client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                             resources={"metadata": {"path": str(cwd)}})
            client.execute()
        finally:
            for key, value in saved.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return nb


def write(nb, path: Path) -> Path:
    import nbformat

    from common.io import atomic_write_text

    return atomic_write_text(path, nbformat.writes(nb))


@cli_main
def main(argv=None) -> Path | None:
    args = build_parser().parse_args(argv)
    if args.check:
        reason = stale(args.out)
        print(reason or f"{args.out.name} matches the sources")
        if reason:
            sys.exit(1)
        return None
    nb = new_notebook()
    start = time.perf_counter()
    try:
        execute(nb, args.settings, args.timeout)
    except Exception as err:  # a failing cell: say which, keep the committed notebook
        raise UserError(f"the notebook failed while executing ({type(err).__name__}): "
                        f"{str(err).strip().splitlines()[-1] if str(err).strip() else err}") from None
    write(nb, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB, {len(nb.cells)} cells): executed with "
          f"--settings {args.settings} in {time.perf_counter() - start:.0f} s")
    return args.out


if __name__ == "__main__":
    main()
