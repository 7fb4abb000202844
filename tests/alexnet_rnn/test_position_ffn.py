"""Position-wise FFN: Linear and Conv1d(kernel_size=1) with shared weights compute the same map."""
import json

import pytest
import torch

from alexnet_rnn.position_ffn import PositionFFNConv, PositionFFNLinear, compare, main, tie_weights


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (4, 7, 16, 32), (3, 30, 128, 64)])
def test_linear_equals_conv1d(shape):
    result = compare(*shape, generator=torch.Generator().manual_seed(0))
    assert result["max_abs_diff"] <= result["tolerance"]
    assert result["shares_storage"]


def test_weights_are_really_shared():
    linear, conv = PositionFFNLinear(8, 5), PositionFFNConv(8, 5)
    tie_weights(linear, conv)
    z = torch.randn(2, 6, 8)
    with torch.no_grad():
        linear.linear.weight.mul_(-2.0)  # change one module's weight ...
    assert torch.allclose(linear(z), conv(z), atol=1e-6)  # ... the other follows


def test_untied_modules_differ():
    """Guards the check itself: without tying, outputs must not match."""
    torch.manual_seed(0)
    linear, conv = PositionFFNLinear(8, 5), PositionFFNConv(8, 5)
    z = torch.randn(2, 6, 8)
    assert not torch.allclose(linear(z), conv(z), atol=1e-3)


def test_cli(tmp_path):
    main(["--logdir", str(tmp_path / "run"), "--quiet", "--dim", "8", "--hidden", "4"])
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["ffn_equal"] is True and metrics["ffn_max_abs_diff"] < 1e-5 and "data" in metrics
    with pytest.raises(SystemExit) as err:
        main(["--logdir", str(tmp_path / "bad"), "--dim", "0"])
    assert err.value.code == 2
