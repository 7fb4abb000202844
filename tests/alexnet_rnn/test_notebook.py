"""The submission notebook runs top to bottom offline (quick settings), so it never goes stale."""
import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[2] / "alexnet_rnn" / "assignment2.ipynb"


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_notebook_runs_offline_and_answers_every_programming_part(tmp_path, monkeypatch):
    monkeypatch.setenv("A2_QUICK", "1")
    monkeypatch.setenv("A2_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("A2_PTB", str(tmp_path / "no_ptb"))
    monkeypatch.delenv("A2_WEIGHTS", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parents[1])}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    for needle in ("Layer 1 = conv1", "Layer 4 = pool2", "NOT Penn Treebank", "china_to_goldfish.png:\n  1. goldfish",
                   "greedy (argmax):", "sampled (softmax, T=1):", "euclidean distance between the embeddings",
                   "Linear and Conv1d outputs match, shape (4, 10, 16)"):
        assert needle in text, needle
    assert images == 8
    out = tmp_path / "out"
    assert (out / "q1c_adversarial" / "examples" / "grace_hopper_to_goldfish.pt").is_file()
    assert json.loads((out / "q2a_bptt" / "metrics.json").read_text())["rows"][-1]["ratio"] == pytest.approx(3, 0.02)
