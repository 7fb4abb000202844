"""Demo stage for COMP 499/691 A2: every entry script once, small enough for a laptop CPU.

    python -m alexnet_rnn.demo --out logs/demo [--quick] [--device auto]

Runs, each into its own run directory ``--out/alexnet_rnn_<stage>``: receptive fields (table +
gradient check), AlexNet predictions on the library sample photos, targeted L1
adversarial examples (both photos, one target each), a short character-level language-model
run on the embedded English text (perplexity against the unigram/bigram baselines, loss
curve, samples), the truncated-BPTT memory measurement (small sizes) and the position-wise
FFN check: a showcase of about a minute on 2 CPU cores.  The larger runs the answers quote
(three targets per photo, the word-level model, course-size BPTT) belong to
``python -m alexnet_rnn.results``.  Without cached ImageNet weights (offline), AlexNet runs
with random weights (init seed 13, under which the photos get different classes) and every
figure and metrics.json says so.
"""
from __future__ import annotations

import pathlib
import time

from common.cli import demo_parser
from common.errors import cli_main


def build_parser():
    return demo_parser(__doc__.split("\n\n")[0], out_help="folder for the run directories",
                       quick_help="smallest settings (about 30 s on 2 CPU cores)")


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

from alexnet_rnn import adversarial, bptt, position_ffn, predict, receptive_field, rnn_lm  # noqa: E402

# Language-model configs: small enough to train in seconds; LM_CHAR beats both baselines on the
# embedded text (measured; see README.md).  The course defaults stay in rnn_lm.py.
LM_CHAR = ["--level", "char", "--embed-size", "32", "--hidden-size", "128", "--max-chars", "60000",
           "--epochs", "1", "--lr", "0.005", "--num-samples", "200", "--prompt", "The ", "-p", "10"]
LM_TINY = ["--level", "char", "--embed-size", "16", "--hidden-size", "32", "--max-chars", "20000",
           "--epochs", "1", "--lr", "0.005", "--num-samples", "80", "--prompt", "The "]
BPTT_SMALL = ["--hidden-size", "64", "--vocab-size", "500", "-b", "4", "--windows", "1", "2", "4"]


def _stages(quick: bool, weights: str) -> list[tuple[str, object, list[str]]]:
    """(run-dir name, module with main(argv), extra argv) per stage."""
    seed = ["--seed", str(predict.RANDOM_INIT_SEED)] if weights == "random" else []
    steps = "60" if weights == "random" else "300"
    attack = ["--weights", weights, *seed, "--targets", "goldfish", "--max-steps", steps]
    if quick:
        attack = [str(predict.default_images()["china"]), "--weights", weights, *seed, "--targets", "goldfish",
                  "--alpha-scale", "0.5", "--max-steps", "30"]
    return [("receptive_field", receptive_field, []),
            ("predict", predict, ["--weights", weights, *seed]),
            ("adversarial", adversarial, attack),
            ("rnn_lm_char", rnn_lm, LM_TINY if quick else LM_CHAR),
            ("bptt", bptt, BPTT_SMALL), ("position_ffn", position_ffn, [])]


def run_demo(out_root: pathlib.Path, quick: bool = False, device: str = "auto") -> list[pathlib.Path]:
    """Run every stage; returns the run directories written (each with metrics.json)."""
    out_root = pathlib.Path(out_root)
    weights = "imagenet" if predict.pretrained_available() else "random"
    if weights == "random":
        print("alexnet_rnn demo: no cached ImageNet AlexNet weights -> RANDOM weights (labelled on every output)")
    runs = []
    for name, module, extra in _stages(quick, weights):
        path = out_root / f"alexnet_rnn_{name}"  # prefixed: out_root is shared with the other assignments
        start = time.perf_counter()
        module.main([*extra, "--logdir", str(path), "--device", device, "--quiet"])
        print(f"alexnet_rnn demo: {name} done in {time.perf_counter() - start:.1f} s -> {path}", flush=True)
        runs.append(path)
    return runs


@cli_main
def main(argv=None) -> list[pathlib.Path]:
    args = build_parser().parse_args(argv)
    return run_demo(args.out, args.quick, args.device)


if __name__ == "__main__":
    main()
