"""The generated blocks of functaset/ANSWERS.md and README.md, rendered from functaset/results/ alone.

``python -m functaset.results`` writes the JSON and figures and then these blocks;
``tests/test_results_docs.py`` re-renders them from the committed files and fails on any
difference.  Block names are the ``<!-- results:NAME -->`` markers in the docs.
"""
from __future__ import annotations

from pathlib import Path

from common.results import ResultsDir, table

COURSE = "not run here"


def render(results: ResultsDir, here: Path) -> dict[str, str]:
    build, search = results.read_json("build"), results.read_json("search")
    clf, attack, robust = results.read_json("classifier"), results.read_json("attack"), results.read_json("robust")
    fig = lambda name: results.figure_markdown(name, here)  # noqa: E731
    return {
        "answer-map": answer_map(clf, attack, robust, search),
        "build": build_block(build, fig),
        "search": search_block(search),
        "splits": splits_block(clf),
        "convergence": convergence_block(clf, fig),
        "confusions": confusions_block(clf, fig),
        "sweep": sweep_block(attack, fig),
        "adversarial": adversarial_block(attack, fig),
        "examples": fig("attack_examples.png"),
        "robust": robust_block(attack, robust, fig),
        "readme-results": readme_block(build, clf, attack),
    }


def pct(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 2) -> str:
    """``+0.37`` style, or a dash when a run was too short to measure it (fewer than 4 epochs)."""
    return "–" if value is None else f"{value:+.{digits}f}"


def bounds(attack: dict) -> list[str]:
    return sorted(attack["acc_by_eps"], key=float)


def arch_label(key: str) -> str:
    from functaset.results import ARCHS

    return ARCHS[key][0]


# ------------------------------------------------------------------ answer map
def answer_map(clf: dict, attack: dict, robust: dict, search: dict) -> str:
    eps, acc = attack["cm_epsilon"], attack["acc_by_eps"]
    chosen = search["chosen"]
    keys = bounds(attack)
    course_max = "1e-3"
    rows = [
        ["Wet 1: solution overview", f"MLP on the standardised vector; chosen on validation among the starter's "
         f"`VanillaClassifier`, a linear model and three MLPs, then LR, batch size and dropout: "
         f"{arch_label(chosen['arch'])}, LR {chosen['lr']:g}, batch {chosen['batch']}, dropout "
         f"{'-' if chosen['dropout'] is None else format(chosen['dropout'], 'g')}",
         "[Wet 1](#wet-1-solution-overview)"],
        ["Wet 2: accuracy per split", f"train / val / test {pct(clf['train_acc'])} / {pct(clf['val_acc'])} / "
         f"{pct(clf['test_acc'])} % (digits functaset)", "[Wet 2](#wet-2-accuracy-per-split)"],
        ["Wet 3: confusion matrices", "three 10x10 matrices with class names, embedded",
         "[Wet 3](#wet-3-confusion-matrices)"],
        ["Wet 4: analysis, what to change", "see the section", "[Wet 4](#wet-4-what-the-three-matrices-say-and-what-"
         "i-would-change)"],
        ["Wet 5: `attack_classifier`", "completed in `functaset/attack.py` (10 signed-gradient steps, clamp "
         "projection)", "`tests/functaset/test_attack.py`, `test_starter_calls.py`"],
        ["Wet 6: accuracy vs epsilon", f"decreasing: {pct(attack['clean_acc'])} % clean, "
         f"{pct(acc[course_max], 1)} % at {course_max} (largest course bound), {pct(acc[eps], 1)} % at {eps}, "
         f"{pct(acc[keys[-1]], 1)} % at {keys[-1]}", "[Wet 6](#wet-6-accuracy-under-attack-for-each-bound)"],
        ["Wet 7: adversarial confusion matrix", f"at eps = {eps} ({pct(attack['cm_accuracy'], 1)} %)",
         "[Wet 7](#wet-7-adversarial-confusion-matrix)"],
        ["Wet 8: its analysis", "see the section", "[Wet 8](#wet-8-what-the-adversarial-matrix-shows)"],
        ["Wet 9: 18 decoded images", "3 classes x {succeeded, failed} x {clean, `vec_to_img(perturbation)`, "
         "perturbed} (+ decoded difference)", "[Wet 9](#wet-9-decoded-examples)"],
        ["Wet 10 (bonus): robust training", f"PGD-AT and TRADES at {robust['pgd']['train_eps']}: "
         f"{pct(acc[eps], 1)} % (standard) -> {pct(attack['acc_by_eps_pgd'][eps], 1)} % (PGD-AT) / "
         f"{pct(attack['acc_by_eps_trades'][eps], 1)} % (TRADES) under attack, clean {pct(attack['clean_acc'], 1)} -> "
         f"{pct(attack['clean_acc_pgd'], 1)} / {pct(attack['clean_acc_trades'], 1)} %",
         "[Wet 10](#wet-10-bonus-adversarial-training)"],
    ]
    return table(["item", "answer in one line (digits functaset)", "evidence"], rows)


# ------------------------------------------------------------------ wet part
def build_block(build: dict, fig) -> str:
    rows = [[split, f"{build[f'n_{split}']:,}", f"{build[f'psnr_{split}']:.2f} dB",
             f"{build[f'mean_image_psnr_{split}']:.2f} dB"] for split in ("train", "val", "test")]
    return (table(["split", "images", "PSNR of the decoded modulations", "PSNR of the mean training image "
                   "(no information)"], rows)
            + f"\nBuild time {build['build_seconds']:.0f} s on the loaded 2-core machine (`build_seconds`).\n\n"
            + fig("functa_reconstructions.png"))


def search_block(search: dict) -> str:
    seeds = ", ".join(map(str, search["seeds"]))
    rows = [[r["stage"], arch_label(r["arch"]), f"{r['lr']:g}", r["batch"],
             "-" if r["dropout"] is None else f"{r['dropout']:g}", pct(r["train"]), pct(r["val"]),
             " / ".join(pct(v) for v in r["val_by_seed"]), "**chosen**" if r == search["chosen"] else ""]
            for r in search["rows"]]
    c = search["chosen"]
    ties = sum(r["val"] == c["val"] for r in search["rows"])
    return (f"{search['epochs']} epochs per run, seeds {seeds}; accuracy (%) of the best-validation epoch, mean "
            "over the seeds. Stage A: architecture x learning rate at batch 256 and dropout 0.2; stage B: batch "
            "size x dropout for stage A's winner. Rule: " + search["rule"] + ". Test accuracy was not computed "
            "for the choice.\n\n"
            + table(["stage", "model", "LR", "batch", "dropout", "train", "val (mean)", "val per seed", ""], rows)
            + f"\nChosen: {arch_label(c['arch'])}, LR {c['lr']:g}, batch {c['batch']}, dropout "
              f"{'-' if c['dropout'] is None else format(c['dropout'], 'g')} "
              f"(`{' '.join(c['flags'])}`); "
              + ("no other configuration reaches its mean validation accuracy.\n" if ties == 1 else
                 f"{ties - 1} other configuration(s) tie with it, and the first in the table was kept.\n"))


def splits_block(clf: dict) -> str:
    rows = [[split, f"{pct(clf[f'{split}_acc'])} %", COURSE] for split in ("train", "val", "test")]
    return table(["split", "digits functaset (here)", "course Fashion-MNIST functaset"], rows)


def convergence_block(clf: dict, fig) -> str:
    gain, longer = clf["plateau_gain"], clf["longer"]
    return (f"The kept model is the epoch with the best validation accuracy of {clf['epochs']}. Best validation "
            f"accuracy of the last quarter of the epochs minus the best before it: {signed(gain)} points "
            f"(`plateau_gain`; 0 or less means validation had stopped improving). The same configuration "
            f"trained for {longer['epochs']} epochs reaches train / val {pct(longer['train_acc'])} / "
            f"{pct(longer['val_acc'])} % (against {pct(clf['train_acc'])} / {pct(clf['val_acc'])} %).\n\n"
            + fig("classifier_training_curves.png"))


def confusions_block(clf: dict, fig) -> str:
    sizes = {"train": "train", "val": "validation", "test": "test"}
    rows = [[sizes[s], clf[f"{s}_errors"], "; ".join(clf[f"{s}_top_confusions"]) or "none"]
            for s in ("train", "val", "test")]
    figures = "\n".join(fig(f"classifier_confusion_{s}.png") for s in ("train", "val", "test"))
    return table(["split", "errors", "most frequent (true -> predicted: count)"], rows) + "\n" + figures


def sweep_block(attack: dict, fig) -> str:
    from functaset.defaults import DEFAULT_EPSILONS

    keys = bounds(attack)
    ratio = {k: attack["step_size_by_eps"][k] / float(k) for k in keys}
    head = ["epsilon"] + [k if k in DEFAULT_EPSILONS else f"*{k}*" for k in keys]
    rows = [["test accuracy (%)"] + [pct(attack["acc_by_eps"][k], 1) for k in keys],
            ["chosen step / epsilon"] + [f"{ratio[k]:.2g}" for k in keys],
            ["course functaset", COURSE] + [""] * (len(keys) - 1)]
    std, sign = attack["vector_std"], attack["random_sign"]
    control = "; ".join(f"{v['mean']:.1f} +- {v['std']:.1f} % at {k} (PGD: {pct(attack['acc_by_eps'][k], 1)} %)"
                        for k, v in sign.items())
    same = "equal to" if attack["per_bound_equals_envelope"] else "not all equal to"
    return (table(head, rows)
            + f"\nClean accuracy {pct(attack['clean_acc'])} %; the bounds in italics are the ones added. The "
              f"per-dimension standard deviation of the training vectors is {std['mean']:.3f} on average "
              f"({std['min']:.3f} to {std['max']:.3f}). The raw per-bound accuracies (`acc_by_eps_per_bound`) are "
              f"{same} the reported monotone ones. Random sign vectors of the same size "
              f"({sign[next(iter(sign))]['draws']} draws): {control}.\n\n"
            + fig("accuracy_vs_epsilon.png"))


def adversarial_block(attack: dict, fig) -> str:
    band = "inside" if attack["cm_in_20_80_band"] else "outside"
    rows = [[c["class"], c["n"], c["kept"], pct(100.0 * c["kept"] / max(c["n"], 1), 0),
             c["wrongly_predicted_as"]] for c in attack["per_class"]]
    errors = sum(c["n"] - c["kept"] for c in attack["per_class"])
    cm = attack["adversarial_confusion"]
    diagonal_wins = sum(row[i] >= max(v for j, v in enumerate(row) if j != i) for i, row in enumerate(cm))
    sinks = sorted(attack["per_class"], key=lambda c: -c["wrongly_predicted_as"])
    share = sum(c["wrongly_predicted_as"] for c in sinks[:2]) / max(errors, 1)
    in_std = float(attack["cm_epsilon"]) / attack["vector_std"]["mean"]
    return (f"At eps = {attack['cm_epsilon']} the test accuracy under attack is {pct(attack['cm_accuracy'], 1)} % "
            f"({band} 20-80 %; picked automatically as the bound nearest 50 % in the band); {errors} of "
            f"{attack['n_test']} test vectors are misclassified. This bound is {in_std:.2f} standard deviations of "
            f"the average dimension. Most frequent adversarial confusions: "
            f"{'; '.join(attack['cm_top_confusions'])}. The diagonal is the largest cell of {diagonal_wins} of the "
            f"10 rows. Classes {sinks[0]['class']} and {sinks[1]['class']} receive {100 * share:.0f} % of the "
            f"wrong predictions.\n\n" + fig("confusion_adversarial.png") + "\n"
            + table(["class", "test vectors", "still correct under attack", "%", "wrong predictions into this "
                     "class"], rows))


def robust_block(attack: dict, robust: dict, fig) -> str:
    keys = [k for k in bounds(attack) if float(k) >= 1e-3]
    eps = robust["pgd"]["train_eps"]
    models = [("standard", ""), ("Madry PGD-AT", "_pgd"), ("TRADES (beta 6)", "_trades")]
    rows = [[name, pct(attack[f"clean_acc{sfx}"])] + [pct(attack[f"acc_by_eps{sfx}"][k], 1) for k in keys]
            for name, sfx in models]
    head = ["model (test split)", "clean"] + [f"**{k}** (training bound)" if k == eps else k for k in keys]
    small = [k for k in bounds(attack) if float(k) < 1e-3]
    same = all(abs(attack[f"acc_by_eps{sfx}"][k] - attack[f"clean_acc{sfx}"]) < 1e-9 for _, sfx in models
               for k in small)
    conv = "; ".join(f"{k.upper() if k == 'pgd' else 'TRADES'}: {r['epochs']} epochs, best robust validation "
                     f"accuracy {pct(r['best_val_acc_robust'], 1)} %, last-quarter gain {signed(r['plateau_gain'], 1)} "
                     "points" for k, r in robust.items())
    return (table(head, rows)
            + f"\nAt the bounds {small[0]} to {small[-1]} every model "
              f"{'keeps its clean accuracy' if same else 'loses some accuracy (see `acc_by_eps*` in attack.json)'}. "
              f"Training ({eps}, warm start, epsilon ramped over 2 epochs): {conv}.\n\n"
            + "\n".join(fig(f) for f in ("accuracy_vs_epsilon.png", "attack_examples_pgd.png",
                                          "attack_examples_trades.png")))


def readme_block(build: dict, clf: dict, attack: dict) -> str:
    keys = [k for k in ("1e-3", "5e-3", "1e-2", "2e-2") if k in attack["acc_by_eps"]]
    accs = " / ".join(pct(attack["acc_by_eps"][k], 1) for k in keys)
    rows = [["digits functaset, `make_functaset --preset demo`",
             f"{build['psnr_test']:.2f} dB ({build['mean_image_psnr_test']:.2f} dB)", f"{pct(clf['test_acc'])} %",
             f"{accs} %"],
            ["course Fashion-MNIST functaset", COURSE, COURSE, COURSE]]
    return table(["data", "PSNR test (mean image)", "clean test acc", f"acc at {' / '.join(keys)}"], rows)
