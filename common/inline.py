"""Inline the repository code a script needs into one standalone file (for the COMP 691 notebook).

    sources = inline({"alexnet_rnn.predict": ["load_classifier", "predict_probs"]})
    sources.imports        # the external imports the inlined code needs ("import torch", ...)
    sources.modules        # [(module, source of its needed definitions)], dependency order

Starting from the names a caller imports, every top-level definition (function, class,
assignment) they reach is followed through the repository's own imports, also those inside
function bodies, and through the names each definition uses.  What comes out is each module's
needed definitions as written (comments and docstrings kept), repository imports removed,
modules in dependency order, plus the external imports they use.  Nothing is written twice
and nothing is guessed:

* two inlined modules defining the same name, or two external imports binding one name
  differently, are an :class:`InlineError` naming both: they would share one namespace;
* a top-level statement that is neither a definition, an import, a docstring, a
  ``if __name__ == "__main__":`` / ``if TYPE_CHECKING:`` block nor ``matplotlib.use(...)``
  (a backend choice the importing program makes) is an error too, because dropping it could
  change what the definitions do;
* a repository module used as an object (``module.name``) cannot be inlined: an error.

A name used only in annotations is not inlined (annotations are never evaluated under
``from __future__ import annotations``); when nothing else needs it, :meth:`Inlined.header`
imports it under ``if TYPE_CHECKING:``, so linters and type checkers still resolve it.
A top-level ``__file__`` cannot work once inlined: an error.
"""
from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "alexnet_rnn", "miniplaces", "functaset", "autoencoders")


class InlineError(RuntimeError):
    """The sources cannot be inlined as they are (a collision, an unsupported construct)."""


@dataclass
class Module:
    name: str
    path: Path
    lines: list[str]
    definitions: dict[str, ast.stmt] = field(default_factory=dict)   # name -> top-level statement
    internal: dict[str, tuple[str, str]] = field(default_factory=dict)  # bound name -> (module, name)
    external: dict[str, str] = field(default_factory=dict)            # bound name -> import statement
    order: dict[int, int] = field(default_factory=dict)               # id(statement) -> position


@dataclass
class Inlined:
    imports: list[str]
    modules: list[tuple[str, str]]  # (module name, source)
    typing_only: list[str] = field(default_factory=list)  # repository imports that only annotations need

    def header(self) -> str:
        """The imports, with the annotation-only ones under ``if TYPE_CHECKING:`` (never executed)."""
        text = "\n".join(self.imports)
        if self.typing_only:
            text += ("\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:  # types named only in annotations, "
                     "which are never evaluated here\n" + "".join(f"    {line}\n" for line in self.typing_only))
        return text

    def source(self) -> str:
        return self.header() + "\n\n\n" + "\n\n\n".join(src for _, src in self.modules)


def _is_internal(module: str, packages=PACKAGES) -> bool:
    return module.split(".")[0] in packages


def _resolve_relative(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")[:-node.level]
    return ".".join(base + ([node.module] if node.module else []))


def _import_text(node: ast.Import | ast.ImportFrom, alias: ast.alias, module: str) -> str:
    """One import statement binding ``alias`` only (so unused names of a multi-name import are left out)."""
    spelled = f" as {alias.asname}" if alias.asname else ""
    if isinstance(node, ast.Import):
        return f"import {alias.name}{spelled}"
    return f"from {_resolve_relative(module, node)} import {alias.name}{spelled}"


def _bound_name(alias: ast.alias, node) -> str:
    return alias.asname or (alias.name.split(".")[0] if isinstance(node, ast.Import) else alias.name)


def _skippable(node: ast.stmt) -> bool:
    """Top-level statements that are no definitions and may be left out (see the module docstring)."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return True  # a docstring
    if isinstance(node, ast.If):
        test = ast.unparse(node.test)
        return test in ("__name__ == '__main__'", 'TYPE_CHECKING')
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return ast.unparse(node.value.func) == "matplotlib.use"
    return False


def load_module(name: str, packages=PACKAGES) -> Module:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise InlineError(f"module {name} not found")
    path = Path(spec.origin)
    text = path.read_text(encoding="utf-8")
    mod = Module(name, path, text.splitlines())
    tree = ast.parse(text, filename=str(path))
    for position, node in enumerate(tree.body):
        mod.order[id(node)] = position
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            _bind_imports(mod, node, packages)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            mod.definitions[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name_node in ast.walk(target):
                    if isinstance(name_node, ast.Name):
                        mod.definitions[name_node.id] = node
        elif isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for inner in node.body:  # names used in annotations only: bound like any import
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    _bind_imports(mod, inner, packages)
        elif not _skippable(node):
            raise InlineError(f"{path.name}:{node.lineno}: top-level statement `{ast.unparse(node)[:60]}` is not a "
                              "definition; inlining would drop it")
    return mod


def _bind_imports(mod: Module, node: ast.Import | ast.ImportFrom, packages) -> None:
    source = _resolve_relative(mod.name, node) if isinstance(node, ast.ImportFrom) else None
    for alias in node.names:
        bound = _bound_name(alias, node)
        if source == "__future__":
            continue
        if isinstance(node, ast.ImportFrom) and _is_internal(source, packages):
            mod.internal[bound] = (source, alias.name)
        elif isinstance(node, ast.Import) and _is_internal(alias.name, packages):
            mod.internal[bound] = (alias.name, "")  # a module object: refused when used
        else:
            mod.external[bound] = _import_text(node, alias, mod.name)


def _used_names(node: ast.AST) -> tuple[set[str], set[str], list[ast.stmt]]:
    """Names a definition loads at run time, names it uses only in annotations, and the imports inside it."""
    names, annotations, local_imports = set(), set(), []

    def visit(n: ast.AST, into: set[str]) -> None:
        if isinstance(n, (ast.Import, ast.ImportFrom)) and n is not node:
            local_imports.append(n)
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            into.add(n.id)
        for name, value in ast.iter_fields(n):
            target = annotations if name in ("annotation", "returns") else into
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    visit(child, target)

    visit(node, names)
    return names, annotations - names, local_imports


class _Inliner:
    def __init__(self, packages=PACKAGES):
        self.packages = tuple(packages)
        self.modules: dict[str, Module] = {}
        self.needed: dict[str, set[str]] = {}          # module -> definition names
        self.strip: dict[str, set[int]] = {}           # module -> line numbers of inner repo imports
        self.imports: dict[str, str] = {}              # bound name -> import statement
        self.origin: dict[str, str] = {}               # defined name -> module
        self.module_deps: dict[str, set[str]] = {}
        self.typing_only: set[tuple[str, str]] = set()  # (module, name) used only in annotations

    def module(self, name: str) -> Module:
        if name not in self.modules:
            self.modules[name] = load_module(name, self.packages)
            self.needed[name], self.strip[name], self.module_deps[name] = set(), set(), set()
        return self.modules[name]

    def require(self, module: str, name: str, seen_from: str = "") -> None:
        mod = self.module(module)
        if name in mod.internal:  # re-exported: follow it
            target = mod.internal[name]
            if not target[1]:
                raise InlineError(f"{mod.path.name}: module {target[0]} is used as an object; import names instead")
            self.require(*target, seen_from=module)
            return
        if name not in mod.definitions:
            raise InlineError(f"{name} is not defined in {module} (wanted by {seen_from or 'the caller'})")
        if name in mod.definitions and name in self.needed[module]:
            return
        other = self.origin.get(name)
        if other and other != module:
            raise InlineError(f"name collision: {name} is defined in both {other} and {module}; they would share one "
                              "namespace: rename one of them")
        node = mod.definitions[name]
        for bound in _names_bound_by(node):  # an assignment may bind several names
            self.origin[bound] = module
            self.needed[module].add(bound)
        names, annotations, local_imports = _used_names(node)
        for imp in local_imports:
            self._local_import(mod, imp, names)
        for used in sorted(names):
            self._use(mod, used)
        for used in sorted(annotations):
            self._annotation(mod, used)

    def _local_import(self, mod: Module, node, names: set[str]) -> None:
        source = _resolve_relative(mod.name, node) if isinstance(node, ast.ImportFrom) else node.names[0].name
        if not _is_internal(source, self.packages):
            return  # stays in the function body
        if isinstance(node, ast.Import):
            raise InlineError(f"{mod.path.name}:{node.lineno}: `import {source}` of a repository module inside a "
                              "function; import names instead")
        self.strip[mod.name].update(range(node.lineno, node.end_lineno + 1))
        for alias in node.names:
            if alias.asname and alias.asname != alias.name:
                raise InlineError(f"{mod.path.name}:{node.lineno}: `{alias.name} as {alias.asname}` cannot be inlined")
            self.module_deps[mod.name].add(source)
            self.require(source, alias.name, mod.name)
            names.discard(alias.name)

    def _annotation(self, mod: Module, name: str) -> None:
        """A name only annotations use: imported for type checkers only, unless the code needs it anyway."""
        if name in mod.definitions:
            self.typing_only.add((mod.name, name))
        elif name in mod.internal and mod.internal[name][1]:
            self.typing_only.add(mod.internal[name])
        elif name in mod.external:
            self._use(mod, name)

    def _use(self, mod: Module, name: str) -> None:
        if name in mod.definitions:
            self.require(mod.name, name)
        elif name in mod.internal:
            source, original = mod.internal[name]
            if not original:
                raise InlineError(f"{mod.path.name}: module {source} is used as an object; import names instead")
            if original != name:
                raise InlineError(f"{mod.path.name}: `{original} as {name}` cannot be inlined")
            self.module_deps[mod.name].add(source)
            self.require(source, name, mod.name)
        elif name in mod.external:
            statement = mod.external[name]
            if self.imports.setdefault(name, statement) != statement:
                raise InlineError(f"name collision: {name} is bound by `{self.imports[name]}` and by `{statement}` "
                                  f"({mod.path.name})")
        elif name == "__file__":
            raise InlineError(f"{mod.path.name}: a definition uses __file__, which inlined code does not have")

    def result(self) -> Inlined:
        clashes = sorted(set(self.imports) & set(self.origin))
        if clashes:
            raise InlineError(f"name collision: {clashes[0]} is both imported and defined ({self.origin[clashes[0]]})")
        out = []
        for name in self._module_order():
            mod = self.modules[name]
            nodes = sorted({id(mod.definitions[n]): mod.definitions[n] for n in self.needed[name]}.values(),
                           key=lambda node: mod.order[id(node)])
            if nodes:
                out.append((name, "\n\n\n".join(self._segment(mod, node) for node in nodes)))
        typing_only = sorted(f"from {module} import {name}" for module, name in self.typing_only
                             if self.origin.get(name) != module and name not in self.imports)
        return Inlined(sorted(set(self.imports.values()), key=_import_key), out, typing_only)

    def _segment(self, mod: Module, node: ast.stmt) -> str:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        lines = [mod.lines[i - 1] for i in range(first, node.end_lineno + 1) if i not in self.strip[mod.name]]
        return "\n".join(lines)

    def _module_order(self) -> list[str]:
        order, state = [], {}

        def visit(name: str) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "open":
                raise InlineError(f"import cycle through {name}")
            state[name] = "open"
            for dep in sorted(self.module_deps[name]):
                visit(dep)
            state[name] = "done"
            order.append(name)

        for name in sorted(self.modules):
            visit(name)
        return order


def _names_bound_by(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _import_key(statement: str) -> tuple[int, str]:
    """``import x`` before ``from x import y``, then alphabetical (what isort does)."""
    return (statement.startswith("from "), statement.split()[1], statement)


def inline(wanted: dict[str, list[str]], packages=PACKAGES) -> Inlined:
    """Inline ``{module: [names]}`` and everything they reach in ``packages`` (default: this repository's)."""
    inliner = _Inliner(packages)
    for module, names in wanted.items():
        for name in names:
            inliner.require(module, name)
    return inliner.result()
