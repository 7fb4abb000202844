"""Position-wise FFN: Linear and Conv1d(kernel_size=1) with shared weights compute the same B x T x D map."""
import ast
import inspect
import json

import pytest
import torch
import torch.nn.functional as F

from alexnet_rnn import position_ffn
from alexnet_rnn.position_ffn import PositionFFNConv, PositionFFNLinear, compare, main, tie_weights


@pytest.mark.parametrize("shape", [(1, 1, 1, None), (4, 7, 16, None), (3, 30, 128, 64)])
def test_linear_equals_conv1d(shape):
    result = compare(*shape, generator=torch.Generator().manual_seed(0))
    batch, length, dim, hidden = shape
    assert result["output_shape"] == [batch, length, hidden or dim]
    assert result["max_abs_diff"] <= result["tolerance"] and result["shares_storage"]


def test_default_output_is_b_t_d_and_matches_a_reference():
    """Against the formula itself: H(z_t) = relu(W1 z_t + b) at every position t, W1 of size D x D."""
    ffn, z = PositionFFNLinear(6), torch.randn(2, 5, 6)
    w, b = ffn.linear.weight, ffn.linear.bias
    assert w.shape == (6, 6)
    reference = torch.stack([torch.stack([F.relu(w @ z[i, t] + b) for t in range(5)]) for i in range(2)])
    assert ffn(z).shape == (2, 5, 6) and torch.allclose(ffn(z), reference, atol=1e-6)


def test_validation_is_an_assert_statement_that_fires(monkeypatch):
    tree = ast.parse(inspect.getsource(compare))
    assert any(isinstance(node, ast.Assert) for node in ast.walk(tree))
    monkeypatch.setattr(position_ffn, "tie_weights", lambda linear, conv: None)  # two independent weight sets
    with pytest.raises(AssertionError, match="differ"):
        compare(2, 3, 8, generator=torch.Generator().manual_seed(0))


def test_weights_are_really_shared():
    linear, conv = PositionFFNLinear(8, 5), PositionFFNConv(8, 5)
    tie_weights(linear, conv)
    z = torch.randn(2, 6, 8)
    with torch.no_grad():
        linear.linear.weight.mul_(-2.0)  # change one module's weight ...
    assert torch.allclose(linear(z), conv(z), atol=1e-6)  # ... the other follows


def test_cli(tmp_path):
    main(["--logdir", str(tmp_path / "run"), "--quiet", "--dim", "8"])
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["ffn_equal"] is True and metrics["ffn_max_abs_diff"] < 1e-5 and "data" in metrics
    assert metrics["ffn_output_shape"] == [8, 30, 8]
    for bad in (["--dim", "0"], ["--hidden", "0"]):
        with pytest.raises(SystemExit) as err:
            main(["--logdir", str(tmp_path / "bad"), *bad])
        assert err.value.code == 2
    assert not (tmp_path / "bad").exists()
