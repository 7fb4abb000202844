"""common/inline.py: the definitions a caller needs, each once, in dependency order; collisions stop it."""
from __future__ import annotations

import runpy
import sys
import textwrap

import pytest

from common.inline import InlineError, inline

MODULES = {
    "base.py": '''
        """Docstring: dropped."""
        from __future__ import annotations

        import math
        import os.path as osp
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from fakepkg.types import Hint

        SCALE = 2.0  # a constant the function needs


        def double(x: Hint) -> float:
            return SCALE * x


        def unused():
            return osp.sep


        def root(x):
            return math.sqrt(x)
    ''',
    "types.py": '''
        class Hint:
            pass
    ''',
    "top.py": '''
        from fakepkg.base import double

        if __name__ == "__main__":
            print("dropped")


        def quadruple(x):
            """Keeps its docstring and comments."""
            from fakepkg.base import root  # a repository import inside a body: removed, followed
            import json  # an external one stays

            return double(double(x)) + root(0) + len(json.dumps(x))  # shape comment kept
    ''',
    "clash.py": '''
        def double(x):
            return x + x


        def uses_both():
            from fakepkg.base import double as base_double
            return base_double(1) + double(1)
    ''',
    "clash2.py": '''
        from fakepkg.clash import double as twice


        def quadruple(x):
            return twice(twice(x))
    ''',
    "statement.py": '''
        print("side effect at import")


        def f():
            return 1
    ''',
    "path.py": '''
        from pathlib import Path


        def here():
            return Path(__file__)
    ''',
}


@pytest.fixture
def fakepkg(tmp_path, monkeypatch):
    package = tmp_path / "fakepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, text in MODULES.items():
        (package / name).write_text(textwrap.dedent(text).lstrip())
    monkeypatch.syspath_prepend(str(tmp_path))
    return ("fakepkg",)


def test_needed_definitions_only_in_dependency_order(fakepkg, tmp_path, monkeypatch):
    out = inline({"fakepkg.top": ["quadruple"]}, packages=fakepkg)
    assert [name for name, _ in out.modules] == ["fakepkg.base", "fakepkg.top"]
    base, top = (src for _, src in out.modules)
    assert "SCALE = 2.0  # a constant the function needs" in base and "def double" in base and "def root" in base
    assert "unused" not in base and "Docstring" not in base
    assert "from fakepkg" not in top and "import json" in top and "# shape comment kept" in top
    assert '"""Keeps its docstring and comments."""' in top and "dropped" not in top
    assert out.imports == ["import math"]  # osp is unused; typing only for the annotation
    assert out.typing_only == ["from fakepkg.types import Hint"] and "if TYPE_CHECKING:" in out.header()
    script = tmp_path / "inlined.py"
    script.write_text("from __future__ import annotations\n" + out.source())
    monkeypatch.setitem(sys.modules, "fakepkg", None)  # runs without the package
    assert runpy.run_path(str(script))["quadruple"](3) == 12 + 0 + 1


def test_a_name_defined_by_two_modules_is_refused(fakepkg):
    with pytest.raises(InlineError, match="double is defined in both"):
        inline({"fakepkg.top": ["quadruple"], "fakepkg.clash": ["double"]}, packages=fakepkg)
    with pytest.raises(InlineError, match="cannot be inlined"):  # a renaming import would need a rewrite
        inline({"fakepkg.clash2": ["quadruple"]}, packages=fakepkg)


def test_statements_that_inlining_would_drop_are_refused(fakepkg):
    with pytest.raises(InlineError, match="is not a definition"):
        inline({"fakepkg.statement": ["f"]}, packages=fakepkg)
    with pytest.raises(InlineError, match="__file__"):
        inline({"fakepkg.path": ["here"]}, packages=fakepkg)
