"""scripts/bench.py step: every path timed through the engine, ratios to the model-only step, syncs counted."""
import json

import pytest

from miniplaces.bench_step import main, report


def test_step_bench_reports_both_paths_against_the_model_only_step(tmp_path):
    out = tmp_path / "step.json"
    results = main(["--device", "cpu", "-b", "4", "--image-size", "32", "--steps", "3", "--repeats", "1", "-j", "0",
                    "--json", str(out)])
    saved = json.loads(out.read_text())
    assert saved["arch"] == "simplenet" and saved["device_syncs_per_step"] == results["device_syncs_per_step"]
    for path in ("model_only", "jpeg", "device"):
        assert results[f"{path}_images_per_s"] > 0
        assert results[f"{path}_over_model_only"] == pytest.approx(
            results[f"{path}_images_per_s"] / results["model_only_images_per_s"])
        assert results[f"{path}_syncs_per_step"] == 0, path
    # the kernel as it was: one nonzero() per interpolation mode (3); as it is: none
    assert results["augment_split_by_mode_syncs"] == 3 and results["augment_all_modes_where_syncs"] == 0
    assert results["augment_max_abs_diff"] == 0  # the same numbers, bit for bit, on a CPU
    text = report(results)
    assert "model only" in text and "JPEG loader" in text and "--data-on-device" in text and "not MiniPlaces" in text


def test_step_bench_rejects_bad_input_in_one_line(capsys):
    with pytest.raises(SystemExit) as err:
        main(["--device", "cpu", "--arch", "no_such_model"])
    err_text = capsys.readouterr().err
    assert err.value.code == 2 and "Traceback" not in err_text
    assert [line for line in err_text.splitlines() if "error:" in line] == [err_text.strip().splitlines()[-1]]
