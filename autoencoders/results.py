"""autoencoders' committed results: the six encoders on both embedded datasets, fixed seeds.

    python -m autoencoders.results               # ~40 min on 2 loaded CPU cores -> autoencoders/results/ + docs
    python -m autoencoders.results --docs-only   # re-render ANSWERS.md / README.md blocks from results/
    python -m autoencoders.results --quick       # smoke run into logs/results_quick/ (docs untouched)

Recipe, per embedded dataset (sklearn digits in MNIST format, toy scenes in CIFAR format):
a search on *validation* (the jointly trained model: learning rate x batch size x head
dropout; then the autoencoder's and SimCLR's learning rate, scored by the head's validation
accuracy), then all three modes with the chosen settings for seeds 0, 1, 2 (mean +- std),
figures from seed 0; then dry question 1's latent-size sweep and dry question 10's random
codes on digits.  Every number and figure the docs quote comes from the JSON and PNGs this
writes (rendered by :func:`blocks`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from common.results import ResultsDir, results_main

HERE = Path(__file__).resolve().parent
RESULTS = ResultsDir(HERE / "results")
DOCS = [HERE / "ANSWERS.md", HERE / "README.md"]
MODES = ("selfsup", "guided", "contrastive")
# Schedules long enough for every stage to reach a validation plateau (checked: `*_val_gain_last_quarter`).
SCHEDULES = {
    "digits": ["--width", "16", "--ae-epochs", "30", "--clf-epochs", "60", "--joint-epochs", "30",
               "--contrastive-epochs", "40"],
    "toy-cifar": ["--toy-per-class", "100", "--width", "16", "--ae-epochs", "30", "--clf-epochs", "60",
                  "--joint-epochs", "30", "--contrastive-epochs", "40"],
}
STAGE_KEYS = {"selfsup": ("ae", "clf"), "guided": ("joint",), "contrastive": ("contrastive", "clf")}
SUMMARY_METRICS = ("train_acc1", "val_acc1", "test_acc1", "probe_train_acc1", "probe_val_acc1", "probe_test_acc1",
                   "test_mae")


@dataclass
class Plan:
    """Sizes of one results run (full or --quick)."""

    datasets: dict = field(default_factory=lambda: dict(SCHEDULES))
    lrs: tuple = (1e-3, 2e-3, 5e-3)
    batches: tuple = (32, 64)
    dropouts: tuple = (0.1, 0.3)
    pretrain_lrs: tuple = (1e-3, 2e-3, 5e-3)
    seeds: tuple = (0, 1, 2)
    tsne_points: int = 400
    dims: tuple = (2, 4, 8, 16, 32, 64, 128, 256)


FULL = Plan()
QUICK = Plan(datasets={"digits": ["--width", "8", "--ae-epochs", "2", "--clf-epochs", "4", "--joint-epochs", "2",
                                  "--contrastive-epochs", "2"],
                       "toy-cifar": ["--toy-per-class", "20", "--width", "8", "--ae-epochs", "2", "--clf-epochs", "4",
                                     "--joint-epochs", "2", "--contrastive-epochs", "2"]},
             lrs=(2e-3,), batches=(64,), dropouts=(0.2,), pretrain_lrs=(2e-3,), seeds=(0, 1), tsne_points=60,
             dims=(4, 128))


# ------------------------------------------------------------------ experiments
def run(results: ResultsDir, work: Path, quick: bool, device: str) -> None:
    import torch

    # One thread: a fixed thread count keeps float sums, hence the numbers, reproducible, and on
    # shared cores extra OpenMP threads mostly wait at barriers.
    torch.set_num_threads(1)
    plan = QUICK if quick else FULL
    chosen_by_dataset = {}
    for dataset, schedule in plan.datasets.items():
        search = run_search(dataset, schedule, work / "search" / dataset, plan, device)
        chosen_by_dataset[dataset] = search["chosen_flags"]
        runs = [train_all(dataset, [*schedule, *search["chosen_flags"]], work / dataset / f"seed{seed}", seed,
                          plan.tsne_points, device) for seed in plan.seeds]
        results.write_json(f"{dataset}", {"search": search, **summarise(dataset, runs, work / dataset, plan)})
        add_figures(results, dataset, work / dataset / "seed0")
    digits_flags = [*plan.datasets["digits"], *chosen_by_dataset["digits"]]
    dry_questions(results, work, digits_flags, plan, device)


def main_flags(dataset: str, flags: list[str], logdir: Path, seed: int, device: str) -> list[str]:
    return ["--dataset", dataset, *flags, "--seed", str(seed), "--logdir", str(logdir), "--device", device,
            "--quiet"]


def train(argv: list[str]) -> dict:
    from autoencoders.main import main

    return main(argv)


def run_search(dataset: str, schedule: list[str], work: Path, plan: Plan, device: str) -> dict:
    """Stage A: the guided model over LR x batch x dropout; stage B: AE and SimCLR LR at A's batch and dropout.

    Seed 0; the score is the validation accuracy (of the joint model, or of the head on the
    frozen pre-trained encoder); test accuracy is not looked at.  Ties go to the earlier entry.
    """
    quiet = [*schedule, "--no-curves", "--tsne-points", "0"]
    rows = []
    for lr in plan.lrs:
        for batch in plan.batches:
            for dropout in plan.dropouts:
                flags = ["--joint-lr", f"{lr:g}", "--batch-size", str(batch), "--dropout", f"{dropout:g}"]
                m = train(["--mode", "guided", *main_flags(dataset, quiet + flags, work / f"A{len(rows):02d}", 0,
                                                            device)])
                rows.append({"stage": "A", "mode": "guided", "lr": lr, "batch": batch, "dropout": dropout,
                             "train": m[f"{dataset}_guided_train_acc1"], "val": m[f"{dataset}_guided_val_acc1"]})
    best = max(rows, key=lambda r: r["val"])
    shared = ["--batch-size", str(best["batch"]), "--dropout", f"{best['dropout']:g}"]
    chosen = {"guided": best["lr"]}
    for mode, flag in (("selfsup", "--ae-lr"), ("contrastive", "--contrastive-lr")):
        stage = []
        for lr in plan.pretrain_lrs:
            m = train(["--mode", mode, *main_flags(dataset, [*quiet, *shared, flag, f"{lr:g}"],
                                                   work / f"B{len(rows):02d}", 0, device)])
            stage.append({"stage": "B", "mode": mode, "lr": lr, "batch": best["batch"], "dropout": best["dropout"],
                          "train": m[f"{dataset}_{mode}_train_acc1"], "val": m[f"{dataset}_{mode}_val_acc1"]})
            rows.append(stage[-1])
        chosen[mode] = max(stage, key=lambda r: r["val"])["lr"]
    flags = [*shared, "--joint-lr", f"{chosen['guided']:g}", "--ae-lr", f"{chosen['selfsup']:g}",
             "--contrastive-lr", f"{chosen['contrastive']:g}"]
    return {"rows": rows, "chosen_lr": chosen, "chosen_batch": best["batch"], "chosen_dropout": best["dropout"],
            "chosen_flags": flags, "seed": 0}


def train_all(dataset: str, flags: list[str], logdir: Path, seed: int, tsne_points: int, device: str) -> dict:
    points = str(tsne_points if seed == 0 else 0)  # figures come from seed 0
    return train(["--all", *main_flags(dataset, [*flags, "--tsne-points", points, "--no-curves"], logdir, seed,
                                       device)])


def summarise(dataset: str, runs: list[dict], work: Path, plan: Plan) -> dict:
    """Mean and sample std over seeds per (mode, metric), every stage's plateau gain per seed, seed 0's curves."""
    import numpy as np

    stats = {}
    for mode in MODES:
        for metric in SUMMARY_METRICS + ("contrastive_val_acc1",):
            values = [r.get(f"{dataset}_{mode}_{metric}") for r in runs]
            if all(v is not None for v in values):
                stats[f"{mode}_{metric}"] = {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)),
                                             "values": values}
    gains = {f"{mode}_{stage}": [r.get(f"{dataset}_{mode}_{stage}_val_gain_last_quarter") for r in runs]
             for mode in MODES for stage in STAGE_KEYS[mode]}
    curves = {}
    for mode in MODES:
        mode_metrics = json.loads((work / "seed0" / f"{dataset}_{mode}" / "metrics.json").read_text())
        curves.update({f"{mode}_{stage}": mode_metrics.get(f"{stage}_val_curve") for stage in STAGE_KEYS[mode]})
    flags = plan.datasets[dataset]
    epochs = {k[2:].replace("-", "_"): int(v) for k, v in zip(flags[::2], flags[1::2])}  # --ae-epochs 30 -> ae_epochs
    return {"data": runs[0]["data"], "seeds": list(plan.seeds), "stats": stats, "gains": gains, "curves": curves,
            "schedule": epochs}


def add_figures(results: ResultsDir, dataset: str, seed0: Path) -> None:
    from autoencoders.figures import plot_stage_curves

    selfsup = seed0 / f"{dataset}_selfsup" / "figures"
    results.add_figure(selfsup / "reconstructions.png", f"{dataset}_reconstructions.png")
    results.add_figure(selfsup / "interpolation.png", f"{dataset}_interpolation.png")
    for mode in MODES:
        results.add_figure(seed0 / f"{dataset}_{mode}" / "figures" / f"tsne_{dataset}_{mode}.png")
    data = json.loads(results.path.joinpath(f"{dataset}.json").read_text())
    path = plot_stage_curves(data["curves"], seed0 / "figures" / f"{dataset}_convergence.png", dataset=dataset,
                             data_label=data["data"])
    results.add_figure(path)


def dry_questions(results: ResultsDir, work: Path, digits_flags: list[str], plan: Plan, device: str) -> None:
    """Dry 1 (accuracy against h) and dry 10 (random codes through the seed-0 digits decoder)."""
    from autoencoders.latent_sweep import sweep
    from autoencoders.random_codes import decode_random_codes

    flat = sweep(work / "latent_sweep", plan.dims, (0,), device,
                 flags=[*digits_flags, "--tsne-points", "0", "--no-curves"])
    results.write_json("latent_sweep", {k: v for k, v in flat.items()})
    results.add_figure(work / "latent_sweep" / "figures" / "latent_sweep.png")
    ckpt = work / "digits" / "seed0" / "digits_selfsup" / "autoencoder" / "models" / "checkpoint.pth.tar"
    codes = decode_random_codes(str(ckpt), work / "random_codes")
    results.write_json("random_codes", {k: v for k, v in codes.items() if k != "checkpoint"})
    results.add_figure(work / "random_codes" / "figures" / "random_codes.png")


# ------------------------------------------------------------------ doc blocks
def blocks(results: ResultsDir = RESULTS) -> dict[str, str]:
    from autoencoders.results_docs import render

    return render(results, HERE)


def main(argv=None) -> ResultsDir:
    return results_main(argv, assignment="autoencoders", description=__doc__.split("\n\n")[0], results=RESULTS,
                        docs=DOCS, blocks=blocks, run=run)


if __name__ == "__main__":
    from common.errors import cli_main

    cli_main(main)()
