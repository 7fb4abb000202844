"""Demo stage wiring (the demo itself runs in scripts/demo.py, too slow for unit tests)."""
import pytest

from alexnet_rnn import demo


@pytest.mark.parametrize("quick", [True, False])
@pytest.mark.parametrize("weights", ["random", "imagenet"])
def test_every_stage_argv_parses_with_its_script(quick, weights):
    stages = demo._stages(quick, weights)
    names = [name for name, _, _ in stages]
    assert names[:3] == ["receptive_field", "predict", "adversarial"] and names[-1] == "position_ffn"
    assert any(name.startswith("rnn_lm") for name in names)
    for name, module, extra in stages:
        args = module.build_parser().parse_args([*extra, "--logdir", "x", "--device", "cpu", "--quiet"])
        if name in ("predict", "adversarial"):
            assert args.weights == weights


def test_run_dirs_are_prefixed(tmp_path, monkeypatch):
    calls = []

    class Fake:
        @staticmethod
        def main(argv):
            calls.append(argv[argv.index("--logdir") + 1])

    monkeypatch.setattr(demo, "_stages", lambda quick, weights: [("a", Fake, []), ("b", Fake, ["--x"])])
    runs = demo.run_demo(tmp_path, quick=True, device="cpu")
    assert [p.name for p in runs] == ["alexnet_rnn_a", "alexnet_rnn_b"] and calls == [str(p) for p in runs]
