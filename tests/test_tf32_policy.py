"""The TF32 policy (common/device.py): every comparison of two kernels runs in full float32.

cuDNN convolutions default to TF32 on Ampere and newer GPUs; on an H200 that made the handout's
Linear vs Conv1d(k=1) check fail by 7e-4 (0.0 with TF32 off) and stopped ``demo --quick --device cuda``.
A static check finds every comparison in the code (``torch.allclose``/``equal``/``testing.assert_close``
and a largest absolute difference ``(a - b).abs().max()``) and requires the function around it to run
inside ``exact_fp32()`` (decorator or ``with``).  The GPU tests run inside it through tests/conftest.py.
"""
import ast
import subprocess
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from common.device import exact_fp32, set_tf32, tf32_state

REPO = Path(__file__).resolve().parents[1]
COMPARISONS = {"allclose", "assert_close", "equal"}


def _is_comparison(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    name, base = node.func.attr, node.func.value
    if name in COMPARISONS:  # torch.allclose(...), torch.testing.assert_close(...), x.allclose(...)
        return name == "allclose" or ast.unparse(base) in ("torch", "torch.testing")
    if name in ("max", "amax") and not node.args and isinstance(base, ast.Call) and isinstance(
            base.func, ast.Attribute):  # (a - b).abs().max(): the largest difference of two results
        return base.func.attr == "abs" and isinstance(base.func.value, ast.BinOp) and isinstance(
            base.func.value.op, ast.Sub)
    return False


def _scoped(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] == "exact_fp32"


def unscoped_comparisons(source: str, filename: str = "<src>") -> list[str]:
    """``file:line function`` of every comparison not inside exact_fp32() (decorator or with-block)."""
    found = []
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if any(_scoped(d) for d in func.decorator_list):
            continue
        guarded = {id(n) for w in ast.walk(func) if isinstance(w, ast.With) and any(_scoped(i.context_expr)
                                                                                     for i in w.items)
                   for n in ast.walk(w)}
        found += [f"{filename}:{n.lineno} {func.name}" for n in ast.walk(func)
                  if _is_comparison(n) and id(n) not in guarded]
    return found


def code_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True).stdout.split()
    return [REPO / f for f in listed if not f.startswith("tests/")] or sorted(
        p for p in REPO.rglob("*.py") if ".venv" not in p.parts and "tests" not in p.parts)


def test_every_kernel_comparison_in_the_code_runs_in_exact_fp32():
    files = code_files()
    assert len(files) > 50
    found = [hit for path in files for hit in unscoped_comparisons(path.read_text(), path.relative_to(REPO))]
    assert not found, f"comparisons outside exact_fp32(): {found}"
    scoped = [p for p in files if "exact_fp32()" in p.read_text() and p.name != "device.py"]
    assert {p.name for p in scoped} >= {"position_ffn.py", "adversarial.py"}  # the comparisons we know of


def test_the_checker_finds_an_unscoped_comparison():
    bad = "def check(a, b):\n    return torch.allclose(a, b) and (a - b).abs().max() < 1\n"
    assert unscoped_comparisons(bad) == ["<src>:2 check", "<src>:2 check"]
    assert unscoped_comparisons("@exact_fp32()\n" + bad) == []
    inside = "def check(a, b):\n    with exact_fp32():\n        return torch.equal(a, b)\n"
    assert unscoped_comparisons(inside) == []


def test_exact_fp32_turns_tf32_off_and_restores_what_was_there():
    before = tf32_state()
    try:
        set_tf32(True)
        with exact_fp32():
            assert tf32_state() == ("highest", False)
        assert tf32_state() == ("high", True)
        with pytest.raises(RuntimeError), exact_fp32():  # restored on errors too
            raise RuntimeError
        assert tf32_state() == ("high", True)
    finally:
        torch.set_float32_matmul_precision(before[0])
        torch.backends.cudnn.allow_tf32 = before[1]


def test_linear_vs_conv1d_compares_in_full_float32(monkeypatch):
    from alexnet_rnn.position_ffn import compare

    seen = []
    conv1d = F.conv1d
    monkeypatch.setattr(F, "conv1d", lambda *a, **k: seen.append(tf32_state()) or conv1d(*a, **k))
    before = tf32_state()
    try:
        set_tf32(True)  # the training default
        compare(2, 5, 8, generator=torch.Generator().manual_seed(0))
        assert seen == [("highest", False)] and tf32_state() == ("high", True)
    finally:
        torch.set_float32_matmul_precision(before[0])
        torch.backends.cudnn.allow_tf32 = before[1]
