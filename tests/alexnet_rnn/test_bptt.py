"""Truncated vs full BPTT: detach() cuts the gradient path, and the saved activations stop growing."""
import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from alexnet_rnn.bptt import SavedTensorMeter, main, measure
from alexnet_rnn.rnn_lm import RNNLM, detach_hidden


def test_meter_counts_saved_activations_but_not_weights():
    """Reference: tanh saves its output, linear saves its input (and the weight, which is excluded)."""
    layer = nn.Linear(50, 7, bias=False)
    meter = SavedTensorMeter(layer)
    x = torch.randn(40, 50, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(meter.pack, lambda t: t):
        torch.tanh(layer(x)).sum()
    assert meter.nbytes == 40 * 50 * 4 + 40 * 7 * 4


def test_detach_stops_the_gradient_at_the_window_boundary():
    torch.manual_seed(0)
    model = RNNLM(20, embed_size=4, hidden_size=6)
    tokens = torch.randint(0, 20, (2, 3, 5))  # three windows of 5 tokens, batch 2
    for detach in (True, False):
        hidden, first_embedding = None, None
        for w in range(3):
            emb = model.embed(tokens[:, w])  # (B, 5, E)
            first_embedding = emb if w == 0 else first_embedding
            out, hidden = model.rnn(emb, detach_hidden(hidden) if detach else hidden)
        loss = F.cross_entropy(model.linear(out).flatten(0, 1), tokens[:, 2].flatten())  # last window's loss
        (grad,) = torch.autograd.grad(loss, first_embedding, allow_unused=True)
        assert (grad is None) == detach  # the cut graph does not even contain window 1
        if not detach:
            assert grad.abs().max() > 0


def test_saved_bytes_constant_when_truncated_and_linear_when_full():
    torch.manual_seed(0)
    model = RNNLM(50, embed_size=8, hidden_size=16)
    rows = measure(model, batch_size=3, window=6, counts=[1, 2, 4], vocab_size=50, device=torch.device("cpu"),
                   generator=torch.Generator().manual_seed(0))
    truncated = [r["truncated_MiB"] for r in rows]
    assert max(truncated) == pytest.approx(min(truncated), rel=0.02)
    assert rows[0]["full_MiB"] == pytest.approx(rows[0]["truncated_MiB"], rel=0.02)  # one window: same graph
    assert [r["ratio"] for r in rows] == pytest.approx([1, 2, 4], rel=0.02)
    assert all(p.grad is None for p in model.parameters())


def test_cli_small(tmp_path):
    main(["--hidden-size", "8", "--embed-size", "4", "--vocab-size", "30", "-b", "2", "--seq-length", "5",
          "--windows", "1", "3", "--logdir", str(tmp_path / "run"), "--quiet"])
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["full_MiB_15"] == pytest.approx(3 * metrics["full_MiB_5"], rel=0.02) and "data" in metrics
    assert {p.name for p in (tmp_path / "run" / "figures").glob("*.png")} == {"bptt_graph.png", "bptt_memory.png"}
    with pytest.raises(SystemExit) as err:
        main(["--windows", "0", "--logdir", str(tmp_path / "bad")])
    assert err.value.code == 2 and not (tmp_path / "bad").exists()
