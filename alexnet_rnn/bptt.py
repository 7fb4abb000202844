"""Truncated vs full back-propagation through time (Q2(a)): the graph detach() cuts, and what it saves.

    python -m alexnet_rnn.bptt                                  # course sizes: LSTM 1024, batch 20, window 30
    python -m alexnet_rnn.bptt --hidden-size 64 --vocab-size 500 --windows 1 2 4

Measures, for one parameter update over a stream of ``n x window`` tokens, the bytes that
autograd keeps for the backward pass (the activations saved by every operation; the
weights, which exist anyway, are not counted), with and without ``detach()`` of the
hidden state between windows:

* truncated (detach): each window's loss is back-propagated as soon as the window is
  done, through that window only; the next window starts from a detached copy of the
  state, so the graph that ``backward()`` walks never covers more than one window;
* full (no detach): the state keeps its history, so the graph behind the last window's
  loss reaches back to the first token and every window's activations stay saved until
  the single ``backward()`` over the whole stream.

Also draws the computational graph of both (``figures/bptt_graph.png``) and the bytes
against the stream length (``figures/bptt_memory.png``).  Random tokens: the byte counts
depend on the shapes only.  On CUDA the activation peak is reported as well: the most memory
allocated during the update above what was allocated just before it, after one warm-up
update (so the weights, and the cuBLAS/cuDNN workspaces that stay allocated once made, are
not counted; the parameters' gradients and cuDNN's transient workspace are).  Not run on a
GPU yet: an H200 run of the old measurement (no warm-up) at toy sizes gave peaks of 18-23 MiB,
almost all fixed overheads, so compare the peak with the saved bytes of the same run.
"""
from __future__ import annotations

import argparse

from common.cli import add_engine_args, positive_int, run_main
from common.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--vocab-size", type=positive_int, default=10000, help="output classes (PTB: 10,000)")
    p.add_argument("--embed-size", type=positive_int, default=128, help="embedding width")
    p.add_argument("--hidden-size", type=positive_int, default=1024, help="LSTM width")
    p.add_argument("-b", "--batch-size", type=positive_int, default=20, help="parallel streams")
    p.add_argument("--seq-length", type=positive_int, default=30, help="truncation window (tokens)")
    p.add_argument("--windows", type=positive_int, nargs="+", default=[1, 2, 4, 8],
                   help="stream lengths to measure, in windows")
    add_engine_args(p, training=False)
    return p


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common.plotting import markdown_table, plot_overlaid_curves, save_figure  # noqa: E402

from alexnet_rnn.rnn_lm import RNNLM, detach_hidden  # noqa: E402


class SavedTensorMeter:
    """Bytes of the distinct storages autograd saves for backward (model parameters excluded)."""

    def __init__(self, model: nn.Module):
        self.skip = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self.storages: dict[int, int] = {}

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self.skip:  # saved tensors stay alive with the graph: no address reuse
            self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    @property
    def nbytes(self) -> int:
        return sum(self.storages.values())


def one_update(model: RNNLM, tokens: torch.Tensor, window: int, detach: bool) -> dict[str, float]:
    """Forward + backward over ``tokens`` (B, L + 1) in windows; bytes saved by the largest graph walked.

    ``detach=True``: one backward per window, the state detached between windows (truncated BPTT).
    ``detach=False``: the state keeps its history; one backward of the summed loss over all L tokens.
    """
    device = tokens.device
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    hidden, total, largest = None, 0.0, 0
    meter = SavedTensorMeter(model)
    for start in range(0, tokens.shape[1] - 1, window):
        inputs, targets = tokens[:, start:start + window], tokens[:, start + 1:start + 1 + window]  # (B, w)
        if detach:
            meter = SavedTensorMeter(model)  # the previous window's graph is gone
        with torch.autograd.graph.saved_tensors_hooks(meter.pack, lambda t: t):
            logits, hidden = model(inputs, hidden)  # (B, w, V)
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        if detach:
            largest = max(largest, meter.nbytes)
            loss.backward()
            hidden = detach_hidden(hidden)
        else:
            total = total + loss
    if not detach:
        largest = meter.nbytes
        total.backward()
    model.zero_grad(set_to_none=True)
    out = {"saved_bytes": largest}
    if device.type == "cuda":
        out["cuda_peak_bytes"] = torch.cuda.max_memory_allocated(device) - base
    return out


def measure(model: RNNLM, batch_size: int, window: int, counts, vocab_size: int, device,
            generator: torch.Generator | None = None) -> list[dict]:
    """One row per stream length ``n * window``: saved bytes with and without detach()."""
    rows = []
    if torch.device(device).type == "cuda":  # workspaces made by the first update stay: make them outside
        one_update(model, torch.zeros(batch_size, window + 1, dtype=torch.int64, device=device), window, True)
    for n in counts:
        tokens = torch.randint(0, vocab_size, (batch_size, n * window + 1), generator=generator).to(device)
        truncated, full = one_update(model, tokens, window, True), one_update(model, tokens, window, False)
        row = {"windows": n, "tokens": n * window, "truncated_MiB": truncated["saved_bytes"] / 2**20,
               "full_MiB": full["saved_bytes"] / 2**20}
        row["ratio"] = row["full_MiB"] / row["truncated_MiB"]
        if "cuda_peak_bytes" in full:
            row["truncated_cuda_peak_MiB"] = truncated["cuda_peak_bytes"] / 2**20
            row["full_cuda_peak_MiB"] = full["cuda_peak_bytes"] / 2**20
        rows.append(row)
    return rows


def graph_figure(path, steps: int = 3, windows: int = 2) -> None:
    """The unrolled graph twice: full BPTT (gradients reach h0) and truncated (detach() between windows)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(10, 7.2))
    n = steps * windows
    for ax, truncated in zip(axes, (False, True)):
        ax.set_xlim(-0.9, n + 0.8)
        ax.set_ylim(-0.75, 2.9)
        ax.axis("off")
        for t in range(1, n + 1):
            ax.text(t, 0, f"$x_{{{t}}}$", ha="center", va="center", bbox=dict(boxstyle="round", fc="#dde8f5"))
            ax.text(t, 2.2, f"$L_{{{t}}}$", ha="center", va="center", bbox=dict(boxstyle="round", fc="#f5e6dd"))
            ax.annotate("", (t, 0.85), (t, 0.2), arrowprops=dict(arrowstyle="->"))
            ax.annotate("", (t, 2.0), (t, 1.3), arrowprops=dict(arrowstyle="->"))
            ax.annotate("", (t + 0.12, 1.3), (t + 0.12, 2.0),
                        arrowprops=dict(arrowstyle="->", color="crimson", ls="--"))
        for t in range(0, n + 1):
            ax.text(t, 1.08, f"$h_{{{t}}}$", ha="center", va="center", bbox=dict(boxstyle="circle", fc="white"))
        for t in range(1, n + 1):
            cut = truncated and (t - 1) % steps == 0 and t > 1
            ax.annotate("", (t - 0.22, 1.12), (t - 0.78, 1.12), arrowprops=dict(arrowstyle="->"))
            if not cut:  # gradient flows back along the recurrence
                ax.annotate("", (t - 0.78, 0.98), (t - 0.22, 0.98),
                            arrowprops=dict(arrowstyle="->", color="crimson", ls="--"))
            else:
                ax.plot([t - 0.5, t - 0.5], [-0.55, 2.6], color="black", ls=":", lw=1.5)
                ax.text(t - 0.5, 2.72, "detach()", ha="center", fontsize=9)
        if truncated:
            for w in range(windows):
                ax.axvspan(w * steps + 0.55, (w + 1) * steps + 0.45, ymin=0.04, ymax=0.92, color="0.9", zorder=-1)
                ax.text((w + 0.5) * steps + 0.5, -0.6, f"window {w + 1}: own graph, own backward(), then freed",
                        ha="center", fontsize=9)
            ax.set_title("Truncated BPTT (detach the state between windows): gradients stop at the cut")
        else:
            ax.text(n / 2 + 0.5, -0.6, "one graph over all tokens: every step's activations are saved "
                    "until the single backward()", ha="center", fontsize=9)
            ax.set_title("Full BPTT (no detach): gradients flow back to $h_0$")
    axes[0].plot([], [], color="black", label="forward")
    axes[0].plot([], [], color="crimson", ls="--", label="gradient (backward)")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Computational graph of the LSTM language model, unrolled in time")
    save_figure(fig, path, "h_t = LSTM(x_t, h_(t-1)) (cell state included in h); "
                           "L_t = cross-entropy of the word after x_t; weights shared by all steps (not drawn).")


def report_memory(rows: list[dict], path, *, hidden_size: int, embed_size: int, vocab_size: int, batch_size: int,
                  window: int) -> None:
    """Print the table of :func:`measure` and draw the saved bytes against the stream length."""
    columns = [c for c in rows[0] if c != "tokens"]
    print(f"bytes saved for backward in one update (LSTM {hidden_size}, embedding {embed_size}, "
          f"vocabulary {vocab_size}, batch {batch_size}, window {window}):")
    print(markdown_table(rows, ["tokens", *columns]), end="")
    plot_overlaid_curves({"full BPTT (no detach)": [r["full_MiB"] for r in rows],
                          f"truncated, detach every {window}": [r["truncated_MiB"] for r in rows]},
                         path, x=[r["tokens"] for r in rows], title="Activations kept for one backward pass",
                         xlabel="tokens in the stream (one update)", ylabel="saved tensors (MiB)",
                         caption=f"LSTM {hidden_size}, batch {batch_size}, vocabulary {vocab_size}; "
                                 "counted with autograd saved-tensor hooks (weights excluded).")


@cli_main
def main(argv=None) -> dict:
    return run_main(argv, build_parser, "alexnet_rnn", _run)


def _run(args, ctx) -> dict:
    model = RNNLM(args.vocab_size, embed_size=args.embed_size, hidden_size=args.hidden_size).to(ctx.device)
    rows = measure(model, args.batch_size, args.seq_length, sorted(set(args.windows)), args.vocab_size, ctx.device,
                   torch.Generator().manual_seed(args.seed))
    report_memory(rows, ctx.run.figure_path("bptt_memory"), hidden_size=args.hidden_size, embed_size=args.embed_size,
                  vocab_size=args.vocab_size, batch_size=args.batch_size, window=args.seq_length)
    graph_figure(ctx.run.figure_path("bptt_graph"))
    metrics = {"data": "random token ids (byte counts depend on shapes only)", "rows": rows,
               **{f"{k}_{r['tokens']}": r[k] for r in rows for k in ("truncated_MiB", "full_MiB")}}
    ctx.run.write_metrics(metrics)
    return metrics


if __name__ == "__main__":
    main()
