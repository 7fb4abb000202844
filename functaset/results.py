"""functaset's committed results: the whole wet part on the embedded digits, fixed seeds.

    python -m functaset.results               # ~15 min on 2 loaded CPU cores -> functaset/results/ + the docs' tables
    python -m functaset.results --docs-only   # re-render ANSWERS.md / README.md blocks from results/
    python -m functaset.results --quick       # smoke run into logs/results_quick/ (docs untouched)

Recipe: build the digits functaset (``make_functaset --preset demo``); choose the classifier
on *validation* (architecture x learning rate, then batch size x dropout, 2 seeds each);
train the winner (seed 0) and check it converged (validation plateau, and a run twice as
long); attack it over the extended bound sweep; train PGD-AT and TRADES at the standard
model's confusion-matrix bound; attack all three together.  Every number and figure the
docs quote comes from the JSON and PNGs this writes (rendered by :func:`blocks`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from common.results import ResultsDir, plateau_gain, results_main

from functaset.defaults import DIGITS_EPSILONS

HERE = Path(__file__).resolve().parent
RESULTS = ResultsDir(HERE / "results")
DOCS = [HERE / "ANSWERS.md", HERE / "README.md"]

ARCHS = {  # key -> (label, classifier.py flags); simplest first: ties go to the earlier entry
    "vanilla": ("VanillaClassifier (the starter's: Linear on the raw vector)", ["--model", "vanilla"]),
    "linear": ("linear on the standardised vector (MLP depth 0)", ["--depth", "0"]),
    "mlp1x256": ("MLP 1 x 256", ["--depth", "1", "--hidden", "256"]),
    "mlp2x256": ("MLP 2 x 256", ["--depth", "2", "--hidden", "256"]),
    "mlp3x1024": ("MLP 3 x 1024 (the course-data default)", ["--depth", "3", "--hidden", "1024"]),
}


@dataclass
class Plan:
    """Sizes of one results run (full or --quick)."""

    build: list[str] = field(default_factory=list)
    archs: tuple = tuple(ARCHS)
    lrs: tuple = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
    batches: tuple = (64, 256)
    dropouts: tuple = (0.1, 0.2, 0.3)
    seeds: tuple = (0, 1)
    epochs: int = 30
    robust_epochs: int = 16
    attack: list[str] = field(default_factory=list)
    base_batch: int = 256
    base_dropout: float = 0.2


FULL = Plan()
QUICK = Plan(build=["--limit", "120", "--meta-epochs", "1", "--fit-steps", "3"], archs=("linear", "mlp2x256"),
             lrs=(3e-3,), batches=(256,), dropouts=(0.2,), seeds=(0,), epochs=4, robust_epochs=2,
             attack=["--ratios", "0.25", "1.0", "--select-samples", "120"])


# ------------------------------------------------------------------ experiments
def run(results: ResultsDir, work: Path, quick: bool, device: str) -> None:
    import torch

    # One thread: the models are small MLPs (extra OpenMP threads only wait at barriers on
    # shared cores), and a fixed thread count keeps the float sums, hence the numbers, the same.
    torch.set_num_threads(1)
    plan = QUICK if quick else FULL
    common = ["--device", device, "--quiet"]
    data = work / "functaset_digits"
    from functaset.make_functaset import main as make_main

    build = make_main(["--source", "digits", "--preset", "demo", "--out", str(data), "--logdir", str(work / "build"),
                       "--seed", "0", *plan.build, *common])
    results.write_json("build", {**_drop(build, "out"), "command": "python -m functaset.make_functaset --source "
                                 "digits --preset demo --out data/functaset_digits --seed 0"})
    results.add_figure(work / "build" / "figures" / "reconstructions.png", "functa_reconstructions.png")
    search = run_search(data, work / "search", plan, common)
    results.write_json("search", search)
    chosen = search["chosen"]
    final = classify(data, work / "final", chosen["flags"], plan.epochs, 0, common, figures=True)
    longer = classify(data, work / "final_2x", chosen["flags"], 2 * plan.epochs, 0, common, figures=False)
    results.write_json("classifier", summarise_classifier(final, longer, chosen, plan))
    for fig in ("confusion_train", "confusion_val", "confusion_test", "training_curves"):
        results.add_figure(work / "final" / "figures" / f"{fig}.png", f"classifier_{fig}.png")
    attack_all(results, data, work, final, chosen, plan, common)


def classify(data: Path, logdir: Path, flags: list[str], epochs: int, seed: int, common: list[str], *,
             figures: bool = False, extra: tuple = ()) -> dict:
    from functaset.classifier import main as classifier_main

    return classifier_main(["-p", str(data), *flags, "--epochs", str(epochs), "--seed", str(seed),
                            "--logdir", str(logdir), *(() if figures else ("--no-figures",)), *extra, *common])


def config_flags(arch: str, lr: float, batch: int, dropout: float | None) -> list[str]:
    flags = [*ARCHS[arch][1], "--lr", f"{lr:g}", "-b", str(batch)]
    return flags + ([] if dropout is None else ["--dropout", f"{dropout:g}"])


def run_search(data: Path, work: Path, plan: Plan, common: list[str]) -> dict:
    """Stage A: architecture x LR (base batch and dropout); stage B: batch x dropout for the winner.

    Each configuration trains with every seed; its score is the mean of the best-epoch
    validation accuracy (the checkpoint classifier.py keeps).  Test accuracy is not looked at.
    """
    rows = []

    def trial(stage: str, arch: str, lr: float, batch: int, dropout: float | None) -> dict:
        dropout = None if arch == "vanilla" else dropout  # the starter's model has no dropout
        flags = config_flags(arch, lr, batch, dropout)
        runs = [classify(data, work / f"{len(rows):02d}_{arch}_s{seed}", flags, plan.epochs, seed, common)
                for seed in plan.seeds]
        row = {"stage": stage, "arch": arch, "lr": lr, "batch": batch, "dropout": dropout, "flags": flags,
               "val_by_seed": [r["val_acc"] for r in runs], "train_by_seed": [r["train_acc"] for r in runs],
               "val": _mean(r["val_acc"] for r in runs), "train": _mean(r["train_acc"] for r in runs)}
        rows.append(row)
        return row

    stage_a = [trial("A", arch, lr, plan.base_batch, plan.base_dropout) for arch in plan.archs for lr in plan.lrs]
    best_a = max(stage_a, key=lambda r: r["val"])  # max keeps the first of equals: the simpler / lower-LR one
    dropouts = (None,) if best_a["arch"] == "vanilla" else plan.dropouts
    stage_b = [trial("B", best_a["arch"], best_a["lr"], b, d) for b in plan.batches for d in dropouts
               if (b, d) != (best_a["batch"], best_a["dropout"])]
    chosen = max([best_a] + stage_b, key=lambda r: r["val"])
    return {"rows": rows, "chosen": chosen, "seeds": list(plan.seeds), "epochs": plan.epochs,
            "rule": "highest mean validation accuracy over the seeds; ties go to the configuration tried first"}


def summarise_classifier(final: dict, longer: dict, chosen: dict, plan: Plan) -> dict:
    keep = ("train_acc", "val_acc", "test_acc", "train_errors", "val_errors", "test_errors",
            "train_top_confusions", "val_top_confusions", "test_top_confusions", "history", "epochs")
    return {**{k: final[k] for k in keep}, "arch": chosen["arch"], "flags": chosen["flags"],
            "plateau_gain": plateau_gain(final["history"], "val_acc1"),
            "longer": {"epochs": longer["epochs"], "train_acc": longer["train_acc"], "val_acc": longer["val_acc"]},
            "data": final["data"]}


def attack_all(results: ResultsDir, data: Path, work: Path, final: dict, chosen: dict, plan: Plan,
               common: list[str]) -> None:
    """Attack the standard model, train PGD-AT / TRADES at its confusion-matrix bound, attack all three."""
    from functaset.attack import main as attack_main

    std = attack_main(["-m", final["model_path"], "-p", str(data), "--epsilons", *DIGITS_EPSILONS, *plan.attack,
                       "--logdir", str(work / "attack_standard"), *common])
    train_eps, robust = std["cm_epsilon"], {}
    for kind in ("pgd", "trades"):
        robust[kind] = classify(data, work / f"robust_{kind}", chosen["flags"], plan.robust_epochs, 0, common,
                                extra=("--adv-train", kind, "--train-eps", train_eps, "--eps-warmup", "2",
                                       "--init-from", final["model_path"]))
    compare = [f"{kind}={m['model_path']}" for kind, m in robust.items()]
    attack = attack_main(["-m", final["model_path"], "-p", str(data), "--epsilons", *DIGITS_EPSILONS, *plan.attack,
                          "--compare", *compare, "--logdir", str(work / "attack"), *common])
    results.write_json("attack", {**_drop(attack, "model_path"), **analyse_attack(data, final, attack),
                                  "command": "python -m functaset.attack -m MODEL -p data/functaset_digits "
                                             "--epsilons " + " ".join(DIGITS_EPSILONS)})
    results.write_json("robust", {kind: {"train_eps": train_eps, "epochs": m["epochs"], "test_acc": m["test_acc"],
                                         "val_acc": m["val_acc"], "best_val_acc_robust": m["best_val_acc_robust"],
                                         "plateau_gain": plateau_gain(m["history"], "val_acc_robust"),
                                         "history": m["history"]} for kind, m in robust.items()})
    figures = work / "attack" / "figures"
    for fig in ("accuracy_vs_epsilon", "confusion_adversarial", "attack_examples", "attack_examples_pgd",
                "attack_examples_trades"):
        results.add_figure(figures / f"{fig}.png", f"{fig}.png")


def analyse_attack(data: Path, final: dict, attack: dict) -> dict:
    """Per-class robustness at the confusion-matrix bound, a random-sign control, the vectors' scale.

    Re-runs the same deterministic sweep as attack.py (same bounds and step sizes, no random
    start), so its numbers are the confusion matrix's; checked against attack.py's accuracy.
    """
    import torch

    from functaset.models import load_classifier
    from functaset.sweep import envelope, sweep
    from functaset.utils import load_split

    model = load_classifier(final["model_path"])
    x, y = load_split(data, "test")
    keys = sorted(attack["acc_by_eps"], key=float)
    res = envelope(sweep(model, x, y, [float(k) for k in keys], [attack["step_size_by_eps"][k] for k in keys]))
    k = keys.index(attack["cm_epsilon"])
    with torch.no_grad():
        adv_pred = model(res["x_adv"][k]).argmax(1)
    acc = 100.0 * (adv_pred == y).float().mean().item()
    if abs(acc - attack["cm_accuracy"]) > 1e-6:
        raise RuntimeError(f"re-run sweep gives {acc:.3f}% at {keys[k]}, attack.py {attack['cm_accuracy']:.3f}%")
    per_class = [{"class": c, "n": int((y == c).sum()), "kept": int(((y == c) & (adv_pred == y)).sum()),
                  "wrongly_predicted_as": int(((adv_pred == c) & (y != c)).sum())} for c in range(10)]
    train_x, _ = load_split(data, "train")
    std = train_x.std(dim=0)
    confusion = torch.bincount(y * 10 + adv_pred, minlength=100).view(10, 10)  # (true, predicted)
    control = random_sign(model, x, y, [keys[k], keys[min(k + 1, len(keys) - 1)]])
    return {"per_class": per_class, "adversarial_confusion": confusion.tolist(), "random_sign": control,
            "vector_std": {"mean": std.mean().item(), "min": std.min().item(), "max": std.max().item()},
            "per_bound_equals_envelope": attack["acc_by_eps_per_bound"] == attack["acc_by_eps"]}


def random_sign(model, x, y, bounds: list[str], draws: int = 5) -> dict:
    """Accuracy under random +-eps sign vectors (a control: PGD's sign is chosen, this one is not)."""
    import torch

    gen, out = torch.Generator().manual_seed(0), {}
    with torch.no_grad():
        for key in dict.fromkeys(bounds):
            accs = torch.tensor([100.0 * (model(x + float(key) * torch.randn(x.shape, generator=gen).sign())
                                          .argmax(1) == y).float().mean().item() for _ in range(draws)])
            out[key] = {"mean": accs.mean().item(), "std": accs.std().item(), "draws": draws}
    return out


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def _drop(metrics: dict, *keys: str) -> dict:
    """Metrics without machine-specific paths."""
    return {k: v for k, v in metrics.items() if k not in keys}


# ------------------------------------------------------------------ doc blocks
def blocks(results: ResultsDir = RESULTS) -> dict[str, str]:
    from functaset.results_docs import render

    return render(results, HERE)


def main(argv=None) -> ResultsDir:
    return results_main(argv, assignment="functaset", description=__doc__.split("\n\n")[0], results=RESULTS,
                        docs=DOCS, blocks=blocks, run=run)


if __name__ == "__main__":
    from common.errors import cli_main

    cli_main(main)()
