"""Word- (or char-) level RNN/GRU/LSTM language model with truncated BPTT, baselines, sampling, distances.

    python -m alexnet_rnn.rnn_lm --data data/ptb --distance army taxpayer      # the course run on PTB
    python -m alexnet_rnn.rnn_lm --epochs 3 --hidden-size 256                  # embedded English text
    python -m alexnet_rnn.rnn_lm --level char --model gru --epochs 1
    python -m alexnet_rnn.rnn_lm --dry-run                                     # tiny, seconds

Defaults are the course's: embedding 128, LSTM hidden 1024, 1 layer, vocabulary 10,000
with <unk>, Adam 0.002 (constant), batch 20, sequence length 30, gradient clip 0.5,
5 epochs.  Training runs on the shared engine (checkpoints, --resume, Ctrl-C saves,
TensorBoard); the hidden state is carried across windows and detached at each one.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from common.cli import add_engine_args, nonnegative_float, nonnegative_int, positive_float, positive_int, run_main
from common.errors import UserError, cli_main
from common.io import atomic_write_text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default=None, metavar="DIR",
                   help="folder with PTB train.txt and valid.txt; default: embedded English text (pydoc topics)")
    p.add_argument("--level", choices=["word", "char"], default="word", help="tokens are words or characters")
    p.add_argument("--model", choices=("rnn", "gru", "lstm"), default="lstm", help="recurrent cell (CELLS)")
    p.add_argument("--embed-size", type=positive_int, default=128, help="embedding width")
    p.add_argument("--hidden-size", type=positive_int, default=1024, help="recurrent state width")
    p.add_argument("--num-layers", type=positive_int, default=1, help="stacked recurrent layers")
    p.add_argument("--vocab-size", type=positive_int, default=10000, help="vocabulary cap, <unk> included")
    p.add_argument("--epochs", type=positive_int, default=5, help="training epochs")
    p.add_argument("-b", "--batch-size", type=positive_int, default=20, help="parallel text streams")
    p.add_argument("--seq-length", type=positive_int, default=30, help="BPTT window (tokens)")
    p.add_argument("--lr", type=positive_float, default=0.002, help="Adam learning rate (constant)")
    p.add_argument("--clip-grad", type=nonnegative_float, default=0.5, help="max gradient norm (0 disables)")
    p.add_argument("--max-chars", type=nonnegative_int, default=0,
                   help="embedded text only: use its first N chars (0 = all)")
    p.add_argument("--valid-fraction", type=float, default=0.1, help="embedded text only: held-out tail")
    p.add_argument("--num-samples", type=positive_int, default=100, help="tokens to generate per temperature")
    p.add_argument("--temperatures", type=nonnegative_float, nargs="+", default=[0.0, 0.7, 1.0],
                   help="sampling temperatures (0 = greedy)")
    p.add_argument("--prompt", default="", help="text the samples continue (default: start of a line)")
    p.add_argument("--distance", nargs=2, metavar=("WORD1", "WORD2"),
                   help="print the Euclidean distance between two words' embeddings (e.g. army taxpayer on PTB)")
    p.add_argument("-p", "--print-freq", type=positive_int, default=50, help="steps between host syncs / logs")
    p.add_argument("--dry-run", action="store_true", help="tiny run: 1 epoch, small model, 20k chars")
    add_engine_args(p, resume=True)
    return p


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common.engine import EngineConfig, StepResult, Trainer  # noqa: E402
from common.modules import eval_mode  # noqa: E402
from common.plotting import plot_overlaid_curves, save_figure  # noqa: E402
from common.schedule import WARMUP_CONSTANT  # noqa: E402

from alexnet_rnn.lm_data import EOS, BPTTWindows, Corpus, Vocab, load_corpus  # noqa: E402
from alexnet_rnn.ngram import baselines  # noqa: E402

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RNNLM(nn.Module):
    """Embedding -> RNN/GRU/LSTM -> linear over the vocabulary."""

    def __init__(self, vocab_size: int, *, embed_size: int = 128, hidden_size: int = 1024, num_layers: int = 1,
                 cell: str = "lstm"):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = CELLS[cell](embed_size, hidden_size, num_layers, batch_first=True)
        self.linear = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, hidden=None):
        """x (B, T) token ids -> logits (B, T, V) and the final hidden state."""
        out, hidden = self.rnn(self.embed(x), hidden)  # (B, T, H)
        return self.linear(out), hidden


def detach_hidden(hidden):
    """Cut the graph at the window boundary (truncated BPTT); LSTM state is an (h, c) tuple."""
    if hidden is None:
        return None
    return tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()


class TBPTTStep:
    """Engine step function that carries the hidden state from one window to the next.

    The state lives here, not in the model, so training and evaluation (two instances)
    never clobber each other's streams.  ``batch_size`` is the token count, so the
    engine's averaged ``loss`` is the mean per-token NLL and exp(loss) the perplexity.
    """

    def __init__(self):
        self.hidden = None
        self.losses: list[torch.Tensor] = []  # each window's loss, kept on the device (no host sync per step)
        self.offset = 0  # windows trained before this process started (a resumed run)

    def __call__(self, model: nn.Module, batch) -> StepResult:
        inputs, targets, first = batch  # (B, T), (B, T), bool
        logits, hidden = model(inputs, None if first else self.hidden)
        self.hidden = detach_hidden(hidden)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())  # (B*T, V) vs (B*T,)
        if model.training:
            self.losses.append(loss.detach())
        return StepResult(loss, batch_size=targets.numel())


def perplexities(record: dict[str, float]) -> dict[str, float]:
    """Epoch-end hook for the engine: perplexity = exp(mean token cross-entropy)."""
    return {f"{split}_ppl": math.exp(min(record[f"{split}_loss"], 50.0))
            for split in ("train", "val") if f"{split}_loss" in record}


@torch.no_grad()
def sample(model: nn.Module, prompt: torch.Tensor, length: int, temperature: float = 1.0,
           generator: torch.Generator | None = None) -> list[int]:
    """Continue ``prompt`` (1-D ids) by ``length`` tokens; temperature 0 = greedy (argmax)."""
    with eval_mode(model):
        x, hidden, out = prompt.view(1, -1), None, []
        for _ in range(length):
            logits, hidden = model(x, hidden)
            last = logits[0, -1].float()  # (V,)
            if temperature <= 0:
                nxt = last.argmax().view(1)
            else:
                probs = torch.softmax(last / temperature, dim=0)
                nxt = torch.multinomial(probs.cpu(), 1, generator=generator).to(last.device)
            out.append(nxt)
            x = nxt.view(1, 1)
    return torch.cat(out).tolist() if out else []


def check_words(vocab: Vocab, words) -> None:
    """UserError unless every word has its own vocabulary entry (not mapped to <unk>)."""
    for word in words:
        if word not in vocab.stoi or word == "<unk>":
            raise UserError(f"--distance: {word!r} is not in the {len(vocab)}-token vocabulary of this corpus "
                            f"(e.g. {', '.join(vocab.itos[1:6])}); pick words that occur in the training text")


def embedding_distance(model: RNNLM, vocab: Vocab, first: str, second: str) -> float:
    """Euclidean distance between two tokens' embedding vectors; unknown tokens -> UserError."""
    check_words(vocab, (first, second))
    weight = model.embed.weight.detach()
    return float((weight[vocab.stoi[first]] - weight[vocab.stoi[second]]).norm())


def load_run(run_dir) -> tuple[RNNLM, Vocab]:
    """The model (last checkpoint, eval mode, CPU) and vocabulary of a finished ``rnn_lm`` run directory."""
    from common.checkpoint import load_checkpoint, load_model_weights
    from common.io import read_json

    run_dir = Path(run_dir)
    args = (read_json(run_dir / "config.json", {}) or {}).get("args")
    if not args or not (run_dir / "models" / "vocab.json").is_file():
        raise UserError(f"{run_dir} is not a finished rnn_lm run directory (config.json, models/vocab.json)")
    vocab = Vocab.load(run_dir / "models" / "vocab.json")
    model = RNNLM(len(vocab), embed_size=args["embed_size"], hidden_size=args["hidden_size"],
                  num_layers=args["num_layers"], cell=args["model"])
    path = run_dir / "models" / "checkpoint.pth.tar"
    load_model_weights(model, load_checkpoint(path, flag="load_run"), path)
    return model.eval(), vocab


def loss_figure(step: TBPTTStep, history: list[dict], path, *, name: str, data: str) -> Path:
    """Training loss of every window (and its running mean) with the validation loss at each epoch's end."""
    import matplotlib.pyplot as plt

    losses = torch.stack(step.losses).cpu().tolist() if step.losses else []  # one host sync, after training
    per_epoch = len(losses) / max(1, len(history))
    width = max(1, min(50, len(losses) // 20))
    running = [sum(losses[max(0, i - width + 1):i + 1]) / (i + 1 - max(0, i - width + 1)) for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    steps = range(step.offset + 1, step.offset + len(losses) + 1)
    ax.plot(steps, losses, lw=0.6, alpha=0.35, color="tab:blue", label="training loss per window")
    ax.plot(steps, running, lw=1.5, color="tab:blue", label=f"running mean over {width} windows")
    val = [(step.offset + round(per_epoch * (i + 1)), h["val_loss"]) for i, h in enumerate(history) if "val_loss" in h]
    if val:
        ax.plot(*zip(*val), "o-", color="tab:orange", ms=5, label="validation loss (end of epoch)")
    ax.set(title=f"Language-model loss, {name}", xlabel="training window (one Adam update each)",
           ylabel="cross-entropy per token (nats)")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path, f"exp(loss) is the perplexity; {len(losses)} windows, {len(history)} epoch(s); "
                                  f"data: {data}.")


def check_args(args) -> None:
    if args.dry_run:
        args.epochs, args.embed_size, args.hidden_size, args.max_chars = 1, 32, 64, args.max_chars or 20000
    sizes = (args.epochs, args.batch_size, args.seq_length, args.embed_size, args.hidden_size, args.vocab_size)
    if min(sizes) < 1 or args.vocab_size < 2:
        raise UserError("--epochs, --batch-size, --seq-length, sizes must be >= 1 and --vocab-size >= 2")
    if not 0 < args.valid_fraction < 1:
        raise UserError("--valid-fraction must be between 0 and 1")


def train_language_model(args, ctx, corpus: Corpus) -> tuple[RNNLM, Trainer, float | None]:
    """The course model and loop on the engine; returns the model, the trainer and the untrained perplexity."""
    vocab_size = len(corpus.vocab)
    model = RNNLM(vocab_size, embed_size=args.embed_size, hidden_size=args.hidden_size,
                  num_layers=args.num_layers, cell=args.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    cfg = EngineConfig(epochs=args.epochs, clip_grad=args.clip_grad, print_freq=args.print_freq, quiet=args.quiet,
                       monitor="loss", monitor_mode="min", schedule=WARMUP_CONSTANT)
    arch = f"rnnlm_{args.model}_{args.level}_e{args.embed_size}_h{args.hidden_size}_l{args.num_layers}_v{vocab_size}"
    # The token ids (8 bytes a token) live on the device: a window is a slice there, not a copy per step.
    train, valid = corpus.train.to(ctx.device), corpus.valid.to(ctx.device)
    trainer = Trainer(model, optimizer, BPTTWindows(train, args.batch_size, args.seq_length),
                      BPTTWindows(valid, min(args.batch_size, 10), args.seq_length), ctx=ctx, cfg=cfg,
                      step_fn=TBPTTStep(), eval_step_fn=TBPTTStep(), arch=arch, args=args,
                      epoch_metrics_fn=perplexities)
    if args.resume:
        trainer.resume(args.resume)
        trainer.step_fn.offset = trainer.start_epoch * trainer.steps_per_epoch + trainer.start_step
        initial = None
    else:  # the untrained model's perplexity: the curve's first point (about the vocabulary size)
        initial = math.exp(min(trainer.evaluate(trainer.val_loader, desc="untrained")["loss"], 50.0))
    trainer.fit()
    return model, trainer, initial


def generate_samples(args, model: RNNLM, corpus: Corpus, device) -> dict[str, str]:
    """One text per temperature, each continuing ``--prompt`` (default: the start-of-line token)."""
    if args.prompt:
        tokens = list(args.prompt) if args.level == "char" else (
            args.prompt.split() if args.data else args.prompt.lower().split())
    else:
        tokens = [EOS if args.level == "word" else "\n"]
    prompt = corpus.vocab.encode(tokens).to(device)
    gen = torch.Generator().manual_seed(args.seed)
    shown = args.prompt + ("" if args.level == "char" else " ") if args.prompt else ""
    return {f"{t:g}": shown + corpus.vocab.decode(sample(model, prompt, args.num_samples, t, gen), args.level)
            for t in args.temperatures}


@cli_main
def main(argv=None) -> dict:
    return run_main(argv, build_parser, "alexnet_rnn", _run, prepare=_inputs)


def _inputs(args) -> tuple:
    """The checked flags and the corpus, before any output."""
    check_args(args)
    corpus = load_corpus(args.data, args.level, args.vocab_size, valid_fraction=args.valid_fraction,
                         max_chars=args.max_chars or None)
    if args.distance:  # fail on an unknown word before spending time on training
        check_words(corpus.vocab, args.distance)
    return (corpus,)


def _run(args, ctx, corpus: Corpus) -> dict:
    corpus.vocab.save(ctx.run.models / "vocab.json")
    base = baselines(corpus.train, corpus.valid, len(corpus.vocab))
    model, trainer, initial = train_language_model(args, ctx, corpus)
    metrics = {**trainer.final_metrics(), **base, "data": corpus.label, "level": args.level, "model": args.model,
               "vocab_size": len(corpus.vocab), "train_tokens": len(corpus.train), "valid_tokens": len(corpus.valid)}
    metrics["val_ppl_per_epoch"] = [h["val_ppl"] for h in trainer.history]
    metrics["val_ppl_untrained"] = initial
    metrics["beats_unigram"] = metrics["val_ppl"] < base["unigram_ppl"]
    metrics["beats_bigram"] = metrics["val_ppl"] < base["bigram_ppl"]
    if args.distance:
        metrics[f"distance_{args.distance[0]}_{args.distance[1]}"] = embedding_distance(model, corpus.vocab,
                                                                                         *args.distance)
    samples = generate_samples(args, model, corpus, ctx.device)
    if ctx.dist.is_main:
        loss_figure(trainer.step_fn, trainer.history, ctx.run.figure_path("loss"),
                    name=f"{args.model.upper()} ({args.level})", data=corpus.label)
    _report(args, ctx, metrics, samples)
    return metrics


def _report(args, ctx, metrics: dict, samples: dict[str, str]) -> None:
    if not ctx.dist.is_main:
        return
    name = f"{args.model.upper()} ({args.level})"
    curve = ([metrics["val_ppl_untrained"]] if metrics["val_ppl_untrained"] else []) + metrics["val_ppl_per_epoch"]
    first = "untrained" if metrics["val_ppl_untrained"] else "after epoch 1"
    plot_overlaid_curves({f"{name} validation": curve, "smoothed unigram": [metrics["unigram_ppl"]] * len(curve),
                          "interpolated bigram": [metrics["bigram_ppl"]] * len(curve)},
                         ctx.run.figure_path("perplexity"), title=f"Validation perplexity, {name}",
                         xlabel=f"evaluation (1 = {first}, then one per epoch)", ylabel="perplexity (log scale)",
                         logy=True, caption=f"Baselines are flat lines on the same split; data: {metrics['data']}.")
    text = "".join(f"--- temperature {t} ---\n{s}\n\n" for t, s in samples.items())
    atomic_write_text(ctx.run.path / "samples.txt", text)
    metrics["samples"] = samples
    ctx.run.write_metrics(metrics)
    print(f"validation perplexity {metrics['val_ppl']:.2f} vs unigram {metrics['unigram_ppl']:.2f}, "
          f"bigram {metrics['bigram_ppl']:.2f} (data: {metrics['data']})")
    for key, value in metrics.items():
        if key.startswith("distance_"):
            print(f"{key}: {value:.4f}")
    print(text, end="")


if __name__ == "__main__":
    main()
