"""scripts/results.py (make results): runs each existing <assignment>.results module in its own process."""
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("results_script", REPO / "scripts" / "results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_every_module_and_reports_failures(monkeypatch, capsys):
    script = _load()
    calls = []
    monkeypatch.setattr(script, "existing_modules", lambda repo: ["functaset", "autoencoders"])
    monkeypatch.setattr(script.subprocess, "call", lambda cmd, cwd: calls.append(cmd) or (3 if "autoencoders.results"
                                                                                        in cmd else 0))
    assert script.main(["--docs-only"]) == 1
    assert calls == [[sys.executable, "-m", f"{n}.results", "--docs-only", "--device", "auto"]
                     for n in ("functaset", "autoencoders")]
    out = capsys.readouterr()
    assert "| functaset | ok |" in out.out and "results failed for autoencoders" in out.err


def test_only_one_and_a_missing_module(monkeypatch, capsys):
    script = _load()
    calls = []
    monkeypatch.setattr(script, "existing_modules", lambda repo: ["functaset"])
    monkeypatch.setattr(script.subprocess, "call", lambda cmd, cwd: calls.append(cmd) or 0)
    assert script.main(["--only", "functaset", "--quick", "--device", "cpu"]) == 0
    assert calls == [[sys.executable, "-m", "functaset.results", "--quick", "--device", "cpu"]]
    assert script.main(["--only", "miniplaces"]) == 2
    assert "no results module for miniplaces" in capsys.readouterr().err
