"""The contrastive benchmark runs and reports positive throughput (no timing assertions)."""
import pytest

from autoencoders.bench import bench, main


def test_bench_reports_images_per_second():
    result = bench("mnist", batch_size=8, width=4, steps=1, warmup=0, device="cpu")
    assert result["train_images_per_s"] > 0 and result["augment_images_per_s"] > 0
    assert result["precision"] == "fp32" and result["batch_size"] == 8


def test_bench_cli(capsys):
    main(["--shape", "cifar", "--batch-size", "4", "--width", "4", "--steps", "1", "--warmup", "0", "--device", "cpu"])
    assert "images/s" in capsys.readouterr().out


@pytest.mark.gpu
def test_bench_on_cuda():
    result = bench("cifar", batch_size=64, width=16, steps=2, warmup=1, device="cuda")
    assert result["device"].startswith("cuda") and result["train_images_per_s"] > 0
