"""alexnet_rnn's committed results: every number and figure ANSWERS.md and README.md quote, fixed seeds.

    python -m alexnet_rnn.results               # ~10 min on 2 loaded CPU cores -> alexnet_rnn/results/ + the docs
    python -m alexnet_rnn.results --docs-only   # re-render the docs' generated blocks from results/
    python -m alexnet_rnn.results --quick       # smoke run into logs/results_quick/ (docs untouched)

Runs each entry script once into a work folder (receptive fields, predictions and targeted
attacks with random AlexNet weights, the word- and character-level language models on the
embedded English text, the BPTT memory at the course sizes, the position-wise FFN check),
then keeps their numbers as JSON and their figures in ``results/`` and rewrites the docs'
``<!-- results:NAME -->`` blocks from that JSON alone (:func:`blocks`).  Offline there are
no ImageNet weights and no Penn Treebank: the JSON and every caption say so.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from common.errors import cli_main
from common.results import ResultsDir, results_main, results_parser, table

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = ResultsDir(HERE / "results")
DOCS = [HERE / "ANSWERS.md", HERE / "README.md"]
LM_WORD = ["--level", "word", "--embed-size", "128", "--hidden-size", "256", "--epochs", "3", "--num-samples", "30",
           "--temperatures", "0", "1", "--prompt", "the", "--distance", "class", "function", "-p", "10"]
LM_CHAR = ["--level", "char", "--embed-size", "32", "--hidden-size", "128", "--max-chars", "60000", "--epochs", "1",
           "--lr", "0.005", "--num-samples", "200", "--prompt", "The ", "-p", "10"]


@dataclass
class Plan:
    attack: list[str]
    word: list[str]
    char: list[str]
    bptt: list[str]
    windows: tuple[int, ...]


FULL = Plan(["--max-steps", "60"], LM_WORD, LM_CHAR, [], (15, 60))
QUICK = Plan(attack=["--targets", "goldfish", "--max-steps", "10", "--lr", "0.1"],
             word=["--dry-run", "--max-chars", "8000", "--distance", "the", "of", "--temperatures", "0", "1",
                   "--prompt", "the"],
             char=["--dry-run", "--level", "char"],
             bptt=["--hidden-size", "32", "--embed-size", "16", "--vocab-size", "200", "-b", "4",
                   "--windows", "1", "2"],
             windows=(5,))


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    results_parser(__doc__.split("\n\n")[0]).parse_args()


# ------------------------------------------------------------------ experiments
def run(results: ResultsDir, work: Path, quick: bool, device: str) -> None:
    """Run every script into ``work`` and keep what the docs quote in ``results``."""
    from alexnet_rnn import adversarial, bptt, position_ffn, predict, receptive_field, rnn_lm

    plan = QUICK if quick else FULL
    common = ["--device", device, "--quiet"]
    seed = ["--seed", str(predict.RANDOM_INIT_SEED)]  # random weights: the photos get different classes

    def script(module, name: str, flags: list[str]) -> dict:
        """Run ``module.main(flags)`` into ``work/name``; its metrics plus the command (without the paths)."""
        metrics = module.main([*flags, "--logdir", str(work / name), *common])
        return {**metrics, "command": shlex.join(["python", "-m", module.__name__, *flags])}

    fields = script(receptive_field, "fields", ["--convention", "both"])
    results.write_json("receptive_fields", fields)
    results.add_figure(work / "fields" / "figures" / "receptive_field_gradient_handout.png", "receptive_fields.png",
                       caption="White = input pixels with a non-zero gradient from the centre unit of each layer "
                               "(ones-kernel copy of AlexNet's geometry, average pools); no data: layer arithmetic.")

    results.write_json("predictions", script(predict, "predict", ["--weights", "random", *seed]))
    results.add_figure(work / "predict" / "figures" / "predictions.png", "predictions.png")

    results.write_json("adversarial", script(adversarial, "attack", ["--weights", "random", *seed, *plan.attack]))
    figures = work / "attack" / "figures"
    results.add_figure(figures / "adversarial_examples.png", "adversarial_examples.png")
    example = next(iter(sorted(figures.glob("adv_china_to_*.png"))))
    results.add_figure(example, "adversarial_perturbation.png",
                       caption=f"{example.stem[4:].replace('_to_', ' -> ')}: original x, adversarial x + r and r "
                               "amplified (grey = 0); data: library sample photos (matplotlib, scikit-learn). "
                               "(RANDOM untrained AlexNet weights: predictions are meaningless)")

    for name, flags in (("lm_word", plan.word), ("lm_char", plan.char)):
        results.write_json(name, script(rnn_lm, name, flags))
    results.add_figure(work / "lm_word" / "figures" / "loss.png", "lm_loss.png")
    results.add_figure(work / "lm_word" / "figures" / "perplexity.png", "lm_perplexity.png")

    memory = script(bptt, "bptt", plan.bptt)
    windows = {str(w): script(bptt, f"bptt_{w}", [*plan.bptt, "--seq-length", str(w), "--windows", "1"])
               ["rows"][0]["truncated_MiB"] for w in plan.windows}
    results.write_json("bptt", {**memory, "window_MiB": {"30": memory["rows"][0]["truncated_MiB"], **windows}})
    results.add_figure(work / "bptt" / "figures" / "bptt_graph.png", "bptt_graph.png",
                       caption="Diagram (no data): " + results_caption(work / "bptt" / "figures", "bptt_graph.png"))
    results.add_figure(work / "bptt" / "figures" / "bptt_memory.png", "bptt_memory.png",
                       caption=results_caption(work / "bptt" / "figures", "bptt_memory.png") + " Random token ids "
                       "(the byte counts depend on the shapes only).")

    results.write_json("position_ffn", script(position_ffn, "ffn", []))
    results.write_json("batching", batching(quick))
    results.write_json("seed_scan", seed_scan(predict.RANDOM_INIT_SEED))


def seed_scan(last: int) -> dict:
    """How many different classes an untrained AlexNet gives the three sample photos, per init seed 0..last."""
    import torch

    from alexnet_rnn.predict import default_images, load_classifier, load_image, predict_probs

    x = torch.stack([load_image(p) for p in default_images().values()])  # (3, 3, 224, 224)
    distinct = {}
    for seed in range(last + 1):
        torch.manual_seed(seed)
        distinct[str(seed)] = len(set(predict_probs(load_classifier("random").model, x).argmax(dim=1).tolist()))
    return {"distinct_classes": distinct, "photos": list(default_images()),
            "command": "python -m alexnet_rnn.results (alexnet_rnn.results.seed_scan)"}


def batching(quick: bool) -> dict:
    """The same three examples attacked as one batch and one at a time (random weights, one thread)."""
    import torch

    from alexnet_rnn.adversarial import auto_alpha, batched_vs_single
    from alexnet_rnn.predict import RANDOM_INIT_SEED, default_images, load_classifier, load_image

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(RANDOM_INIT_SEED)
        clf = load_classifier("random")
        names = ["goldfish"] if quick else ["goldfish", "pizza", "airliner"]
        targets = torch.tensor([clf.categories.index(n) for n in names])
        x = load_image(default_images()["china"]).expand(len(names), -1, -1, -1).contiguous()  # (k, 3, 224, 224)
        rows = batched_vs_single(clf.model, x, targets, auto_alpha(clf.model, x, targets),
                                 max_steps=5 if quick else 30)
    finally:
        torch.set_num_threads(threads)
    return {"rows": [{"target": n, **r} for n, r in zip(names, rows)], "threads": 1, "image": "china",
            "weights": f"random, init seed {RANDOM_INIT_SEED}", "max_steps": 5 if quick else 30,
            "command": "python -m alexnet_rnn.results (alexnet_rnn.results.batching)"}


def results_caption(folder: Path, name: str) -> str:
    from common.io import read_json

    return (read_json(folder / "captions.json", {}) or {}).get(name, "")


# ------------------------------------------------------------------ the blocks
def blocks(results: ResultsDir = RESULTS) -> dict[str, str]:
    """Every generated block of the docs, from the committed JSON and figures alone."""
    figure = lambda name: results.figure_markdown(name, HERE)  # noqa: E731 (one-line helper)
    out = {"fields": _fields(results.read_json("receptive_fields")) + "\n" + figure("receptive_fields.png"),
           "q1b": _seed_scan(results.read_json("seed_scan")) + "\n" + _predictions(results.read_json("predictions"))
           + "\n" + figure("predictions.png"),
           "q1c": _attack(results.read_json("adversarial")) + "\n" + figure("adversarial_examples.png") + "\n"
           + figure("adversarial_perturbation.png"),
           "q1c_summary": _attack_summary(results.read_json("adversarial")),
           "lm": _lm_table(results.read_json("lm_word"), results.read_json("lm_char")),
           "lm_figures": figure("lm_loss.png") + "\n" + figure("lm_perplexity.png"),
           "samples": _samples(results.read_json("lm_word")),
           "distance": _distance(results.read_json("lm_word")),
           "bptt": _bptt(results.read_json("bptt")),
           "bptt_figures": figure("bptt_graph.png") + "\n" + figure("bptt_memory.png"),
           "ffn": _ffn(results.read_json("position_ffn")),
           "batching": _batching(results.read_json("batching"))}
    return out


LAYERS = (("layer1", "Layer 1 (conv1)"), ("layer2", "Layer 2 (max-pool1)"), ("layer3", "Layer 3 (conv2)"),
          ("layer4", "Layer 4 (max-pool2)"))


def _fields(m: dict) -> str:
    rows = [(label, f"{m[f'handout_{key}_Height1']}-{m[f'handout_{key}_Height2']}",
             f"{m[f'exact_{key}_Height1']}-{m[f'exact_{key}_Height2']}",
             "agree" if m[f"handout_{key}_checks_agree"] and m[f"exact_{key}_checks_agree"] else "DISAGREE")
            for key, label in LAYERS]
    return (f"Measured by `{m['command']}` (rows = columns: Height1-Height2 = Width1-Width2, 1-based input "
            "pixels):\n\n"
            + table(["layer", "handout centre (n // 2)", "exact centre", "gradient and impulse checks"], rows))


def _seed_scan(m: dict) -> str:
    counts = {int(k): v for k, v in m["distinct_classes"].items()}
    one = [s for s, n in sorted(counts.items()) if n == 1]
    first = min((s for s, n in counts.items() if n == len(m["photos"])), default=None)
    return (f"Distinct classes an untrained AlexNet gives the {len(m['photos'])} photos, per init seed "
            f"(`{m['command']}`): " + ", ".join(f"seed {s}: {n}" for s, n in sorted(counts.items()))
            + f". One class for all of them under seeds {', '.join(map(str, one)) or 'none'}; the first seed "
            f"that gives each photo its own class: {first}.\n")


def _predictions(m: dict) -> str:
    photos = sorted({k[:-len("_top1")] for k in m if k.endswith("_top1")})
    rows = [(p, m[f"{p}_top1"], f"{100 * m[f'{p}_top1_prob']:.2f}%", ", ".join(m[f"{p}_top5"])) for p in photos]
    return (f"`{m['command']}` ({m['weights']}; data: {m['data']}):\n\n"
            + table(["photo", "top-1 class", "confidence", "top-5"], rows))


def _attack(m: dict) -> str:
    rows = [(r["image"], r["clean"], r["target"], "yes" if r["reached"] else "NO", r["steps"], f"{r['linf']:.3f}",
             f"{r['psnr_db']:.2f}", r["png_class"]) for r in m["rows"]]
    return (f"`{m['command']}` ({m['settings']}; {m['weights']}; data: {m['data']}):\n\n"
            + table(["image", "own class", "target", "reached", "steps", "L-inf", "PSNR (dB)",
                     "class of the reloaded PNG"], rows) + "\n" + _attack_summary(m))


def _attack_summary(m: dict) -> str:
    rows = m["rows"]
    steps, psnr = [r["steps"] for r in rows], [r["psnr_db"] for r in rows]
    linf = [r["linf"] for r in rows]
    return (f"{sum(r['reached'] for r in rows)}/{len(rows)} examples reached their target (judged on the 8-bit "
            f"image) in {min(steps)}-{max(steps)} Adam steps; PSNR {min(psnr):.1f}-{max(psnr):.1f} dB (mean "
            f"{m['mean_psnr_db']:.1f}), L-inf {min(linf):.2f}-{max(linf):.2f}; the reloaded PNGs "
            f"{'all keep' if m['saved_pngs_reach_target'] else 'do NOT all keep'} their target class. Own classes "
            f"under these weights: " + ", ".join(f"{k} {v}" for k, v in sorted(m["clean_classes"].items())) + ".\n")


def _lm_table(word: dict, char: dict) -> str:
    def row(m):
        return (f"{m['model'].upper()}, {m['level']} level", f"{m['train_tokens']:,} train / {m['valid_tokens']:,} "
                f"valid tokens, vocabulary {m['vocab_size']:,}", f"{m['val_ppl_untrained']:.1f}",
                ", ".join(f"{p:.2f}" for p in m["val_ppl_per_epoch"]), f"{m['unigram_ppl']:.2f}",
                f"{m['bigram_ppl']:.2f}", f"`{m['command']}`")

    return ("Validation perplexity on the embedded English text (CPython's pydoc topics; not PTB), against a "
            "smoothed unigram and an interpolated bigram on the same split:\n\n"
            + table(["model", "data", "untrained", "per epoch", "unigram", "bigram", "command"],
                    [row(word), row(char)]))


def _samples(m: dict) -> str:
    text = "\n\n".join(f"{'greedy (temperature 0)' if t == '0' else f'sampled from the softmax (temperature {t})'}:"
                       f"\n{sample}" for t, sample in sorted(m["samples"].items()))
    return ("```\n" + text + "\n```\n\n" + f"(word-level LSTM above, validation perplexity {m['val_ppl']:.2f} against "
            f"{m['bigram_ppl']:.2f} for the bigram; line breaks are the end-of-line token.)\n")


def _distance(m: dict) -> str:
    keys = [k for k in m if k.startswith("distance_")]
    return "".join(f"`{k}` = {m[k]:.4f} (word-level LSTM on the embedded text; not the PTB army/taxpayer number)\n"
                   for k in keys)


PTB_WINDOWS = 1550  # PTB's 929k training words in 20 streams of 30-word windows: about 1,550 windows per stream


def _bptt(m: dict) -> str:
    rows = [(r["tokens"], r["windows"], f"{r['truncated_MiB']:.2f}", f"{r['full_MiB']:.2f}", f"{r['ratio']:.2f}")
            for r in m["rows"]]
    window = {int(k): float(v) for k, v in m["window_MiB"].items()}
    per_window = m["rows"][0]["truncated_MiB"]
    sweep = ", ".join(f"{v:.2f} MiB for {k} tokens" for k, v in sorted(window.items()))
    per_token = sorted(v / k for k, v in window.items())
    return (f"`{m['command']}`:\n\n"
            + table(["tokens in the stream", "windows", "truncated (detach), MiB", "full (no detach), MiB", "ratio"],
                    rows)
            + f"\nTruncated BPTT keeps about {per_window:.1f} MiB whatever the stream length; without `detach()` "
            f"the memory grows by about {per_window:.1f} MiB per window. With `detach()` the window length sets "
            f"the cost: {sweep} (`python -m alexnet_rnn.bptt --seq-length N --windows 1`), "
            f"{per_token[0]:.2f}-{per_token[-1]:.2f} MiB per token of the window at these sizes (the output layer's "
            "logits and log-softmax alone take 2 x 20 x 10,000 x 4 bytes = 1.5 MiB per token). Extrapolated to a "
            f"PTB epoch (about {PTB_WINDOWS:,} windows per stream), one update without `detach()` would keep about "
            f"{PTB_WINDOWS:,} x {per_window:.1f} MiB = {PTB_WINDOWS * per_window / 1024:.1f} GiB of activations.\n")


def _batching(m: dict) -> str:
    diffs = ", ".join(f"{round(255 * r['max_abs_diff'])}/255 ({r['target']})" for r in m["rows"])
    steps = "; ".join(f"{r['target']}: {r['steps_batched']} batched, {r['steps_alone']} alone" for r in m["rows"])
    return (f"Measured on {m['image']} with its targets ({m['weights']} weights, {m['threads']} thread, at most "
            f"{m['max_steps']} steps; `{m['command']}`): the largest pixel difference between the batched and the "
            f"single-image 8-bit results is {diffs}; steps to reach the target: {steps}.\n")


def _ffn(m: dict) -> str:
    return (f"`max |Linear - Conv1d(k=1)| = {m['ffn_max_abs_diff']:.3g}` on `Z` of shape (8, 30, 128), output "
            f"{tuple(m['ffn_output_shape'])}, shared weight storage: {m['ffn_shares_storage']} "
            f"(`{m['command']}`)\n")


# ------------------------------------------------------------------------ main
@cli_main
def main(argv=None) -> ResultsDir:
    return results_main(argv, assignment="alexnet_rnn", description=__doc__.split("\n\n")[0], results=RESULTS,
                        docs=DOCS, blocks=blocks, run=run)


if __name__ == "__main__":
    main()
