"""The committed figures of ``python -m miniplaces.results``, drawn from the runs' histories and attacks.

Training curves per model (loss, top-1/top-5 train/val, learning rate; the first seed), the
validation top-1 of every model per epoch (mean over seeds), custom vs torch convolution loss
per iteration, the adversarial samples at epsilon 0.1 and 0.3, and clean vs attacked accuracy
(mean +- std over seeds) for the models and for adversarial training.  Every caption names the data.
"""
from __future__ import annotations

from pathlib import Path

from common.plotting import plot_grouped_bars, plot_overlaid_curves, plot_training_curves
from common.results import ResultsDir

SHORT_DATA = "toy scenes in the MiniPlaces layout (procedurally generated; not MiniPlaces)"


def make_figures(results: ResultsDir, runs: dict, training: dict, attacks: dict, adversarial: dict,
                 work: Path) -> None:
    from miniplaces.results import MODELS

    seed = training["seeds"][0]
    recipe = f"batch {training['batch_size']}, seed {seed}"
    for key, model in training["models"].items():
        flags = " ".join(model["flags"]) or "(defaults)"
        path = plot_training_curves(model["history_seed0"], work / f"curves_{key}.png",
                                    title=f"{model['label']}: toy scenes (not MiniPlaces)",
                                    caption=f"{model['label']}, {model['epochs']} epochs, {recipe}, flags `{flags}`; "
                                            f"train metrics on augmented batches; data: {SHORT_DATA}.")
        results.add_figure(path)
    adv = adversarial["variants"]["adv_finetune"]
    ft = adversarial["finetune_epochs"]
    path = plot_training_curves(adv["history_seed0"], work / "curves_adv_finetune.png",
                                title="SimpleNet, adversarial fine-tune: toy scenes (not MiniPlaces)",
                                caption=f"{ft} epochs from SimpleNet's best checkpoint (seed {seed}), half of each "
                                        f"batch PGD (5 steps of 0.025, eps 0.1); train metrics on that mix; "
                                        f"data: {SHORT_DATA}.")
    results.add_figure(path)
    val_curves(results, training, work)
    conv_curves(results, training, work)
    for eps in ("0.1", "0.3"):
        source = runs[f"simplenet_s{seed}"]["attacks"][eps]["samples"]
        results.add_figure(source, f"adversarial_samples_eps{eps}.png",
                           caption=f"SimpleNet (seed {seed}, best checkpoint): 10 validation images, clean (top), "
                                   f"after least-likely PGD with epsilon {eps} (10 steps; normalised units; middle) "
                                   f"and the per-pixel change scaled to white (bottom); data: {SHORT_DATA}.")
    robustness(results, attacks, MODELS, work)
    adversarial_bars(results, adversarial, work)


def val_curves(results: ResultsDir, training: dict, work: Path) -> None:
    series = {}
    for model in training["models"].values():
        curves = [r["val_curve"] for r in model["runs"]]
        series[f"{model['label']} (n={len(curves)})"] = [sum(c) / len(c) for c in zip(*curves)]
    path = plot_overlaid_curves(series, work / "val_top1_all.png", title="validation top-1 per epoch (toy scenes)",
                                xlabel="epoch", ylabel="top-1 accuracy (%)",
                                caption=f"Mean over the n seeds of each model; chance is "
                                        f"{100 / training['dataset']['classes']:.0f}%; data: {SHORT_DATA}.")
    results.add_figure(path)


def conv_curves(results: ResultsDir, training: dict, work: Path) -> None:
    """Both loss curves over the whole run, and their first two epochs with the absolute difference."""
    import matplotlib.pyplot as plt

    from common.plotting import save_figure

    losses = training["conv_losses"]
    names = {"torch": "nn.Conv2d (torch)", "custom": "unfold conv (ours)"}
    first = 2 * len(losses["torch"]) // training["models"]["simplenet"]["epochs"]  # two epochs of iterations
    fig, (whole, start) = plt.subplots(1, 2, figsize=(11, 4))
    for key, name in names.items():
        whole.plot(range(1, len(losses[key]) + 1), losses[key], lw=0.8, label=name)
        start.plot(range(1, first + 1), losses[key][:first], lw=1.2, marker="o", ms=2, label=name)
    diff = [abs(a - b) for a, b in zip(losses["torch"][:first], losses["custom"][:first])]
    twin = start.twinx()
    twin.semilogy(range(1, first + 1), [max(d, 1e-9) for d in diff], color="gray", lw=0.8, ls=":",
                  label="|difference| (right axis)")
    twin.set_ylabel("|difference| (log)")
    for ax, title in ((whole, "whole run"), (start, f"first {first} iterations")):
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.set_ylabel("training loss (running mean within the epoch)")
        ax.grid(True, alpha=0.3)
    whole.legend(fontsize=8)
    handles = start.get_legend_handles_labels()
    extra = twin.get_legend_handles_labels()
    start.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=8)
    fig.suptitle("SimpleNet training loss: unfold conv vs nn.Conv2d (toy scenes)")
    results.add_figure(save_figure(fig, work / "conv_loss_curves.png",
                                   f"Seed {training['seeds'][0]}: identical initial weights and batches, so the "
                                   f"curves differ only by floating-point rounding; data: {SHORT_DATA}."))


def robustness(results: ResultsDir, attacks: dict, models: dict, work: Path) -> None:
    names = list(attacks["models"])
    first = attacks["models"][names[0]]
    series = {"clean": ([attacks["models"][k]["0.1"]["clean"]["mean"] for k in names],
                        [attacks["models"][k]["0.1"]["clean"]["std"] or 0 for k in names])}
    for eps in first:
        series[f"PGD eps {eps}"] = ([attacks["models"][k][eps]["attacked"]["mean"] for k in names],
                                    [attacks["models"][k][eps]["attacked"]["std"] or 0 for k in names])
    labels = [models[k].label.replace(" (", "\n(") for k in names]
    path = plot_grouped_bars(labels, series, work / "robustness_models.png",
                             title="clean vs PGD-attacked validation top-1 (toy scenes)", ylabel="top-1 accuracy (%)",
                             caption="Best checkpoints; least-likely L-inf PGD, 10 steps of eps/10; bars: mean "
                                     "over seeds, whiskers: std (the unfold-conv model: one seed); data: "
                                     + SHORT_DATA + ".",
                             ylim=(0, 105))
    results.add_figure(path)


def adversarial_bars(results: ResultsDir, adversarial: dict, work: Path) -> None:
    variants = adversarial["variants"]
    names = list(variants)
    series = {"clean": ([variants[v]["0.1"]["clean"]["mean"] for v in names],
                        [variants[v]["0.1"]["clean"]["std"] or 0 for v in names])}
    for eps in ("0.1", "0.3"):
        series[f"PGD eps {eps}"] = ([variants[v][eps]["attacked"]["mean"] for v in names],
                                    [variants[v][eps]["attacked"]["std"] or 0 for v in names])
    path = plot_grouped_bars([variants[v]["label"] for v in names], series, work / "adversarial_training.png",
                             title="adversarial training of SimpleNet (toy scenes)", ylabel="top-1 accuracy (%)",
                             caption=f"Both fine-tunes: {adversarial['finetune_epochs']} epochs from the warm start, "
                                     f"same seed; adversarial: half of each batch PGD at eps 0.1; mean +- std over "
                                     f"{len(adversarial['seeds'])} seeds; data: {SHORT_DATA}.", ylim=(0, 105))
    results.add_figure(path)
