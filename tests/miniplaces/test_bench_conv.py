"""miniplaces/bench.py reports the whole-model ratio (summed layers, SimpleNet training step) next to
the per-layer geometric mean, and writes them where the miniplaces docs can quote them."""
import pytest

from miniplaces import bench


def test_conv_speed_reports_whole_model_ratios(tmp_path, monkeypatch):
    summary = bench.conv_speed(batch=2, size=32, device="cpu", reps=1, quiet=True)
    rows = summary["rows"]
    assert len(rows) == 7  # SimpleNet's seven convolutions
    assert summary["sum_custom_ms"] == pytest.approx(sum(r["custom_ms"] for r in rows))
    assert summary["sum_time_ratio"] == pytest.approx(summary["sum_custom_ms"] / summary["sum_torch_ms"])
    assert summary["step_time_ratio"] == pytest.approx(summary["custom_step_ms"] / summary["torch_step_ms"])
    assert summary["torch_step_ms"] > 0 and summary["geomean_time_ratio"] > 0
    monkeypatch.setattr(bench, "__file__", str(tmp_path / "miniplaces" / "bench.py"))
    path = bench.write_results(summary, "python -m miniplaces.bench")
    assert path == tmp_path / "miniplaces" / "results" / "conv_speed.json" and path.is_file()
