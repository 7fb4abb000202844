"""The generated blocks of miniplaces/ANSWERS.md and README.md, rendered from miniplaces/results/ alone.

``python -m miniplaces.results`` writes the JSON and figures and then these blocks;
``tests/test_results_docs.py`` re-renders them from the committed files and fails on any
difference.  Block names are the ``<!-- results:NAME -->`` markers in the docs.  Every
comparison is worded by :func:`compare` from the seed statistics, never typed.
"""
from __future__ import annotations

import math
from pathlib import Path

from common.results import ResultsDir, table

DATA = "toy scenes, not MiniPlaces"
ORDER = ("simplenet", "simplenet_customconv", "places_resnet", "resnet18", "simplevit")  # the JSON's keys are sorted
VARIANT_ORDER = ("warm_start", "clean_finetune", "adv_finetune")


def render(results: ResultsDir, here: Path) -> dict[str, str]:
    training, attacks = results.read_json("training"), results.read_json("attacks")
    adversarial, conv, run = results.read_json("adversarial"), results.read_json("conv_speed"), results.read_json("run")
    training["models"] = {k: training["models"][k] for k in ORDER}
    attacks["models"] = {k: attacks["models"][k] for k in ORDER}
    adversarial["variants"] = {k: adversarial["variants"][k] for k in VARIANT_ORDER}
    fig = lambda name: results.figure_markdown(name, here)  # noqa: E731
    models = training["models"]
    return {
        "answer-map": answer_map(training, attacks, adversarial, conv),
        "setup": setup_block(training, run),
        "models": models_block(training, fig),
        "convergence": convergence_block(training),
        "simplenet": fig("curves_simplenet.png"),
        "conv-speed": conv_speed_block(conv),
        "conv-training": conv_training_block(training, fig),
        "own-cnn": fig("curves_places_resnet.png") + "\n" + own_cnn_block(models),
        "resnet18": fig("curves_resnet18.png") + "\n" + resnet18_block(models),
        "vit": fig("curves_simplevit.png") + "\n" + vit_block(models, attacks),
        "attack": attack_block(training, attacks, fig),
        "pgd-grid": grid_block(attacks),
        "adv-samples": fig("adversarial_samples_eps0.1.png") + "\n" + fig("adversarial_samples_eps0.3.png"),
        "adv-train": adv_block(adversarial, fig),
        "readme-results": readme_block(training, attacks, adversarial, run),
        "readme-conv": readme_conv_block(conv),
    }


# ------------------------------------------------------------------ formatting
def pm(stat: dict, digits: int = 1) -> str:
    """``mean ± std`` over seeds (just the value for one seed)."""
    if stat is None or stat.get("mean") is None:
        return "–"
    if stat.get("std") is None:
        return f"{stat['mean']:.{digits}f} (1 seed)"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def compare(a: dict, b: dict, name_a: str, name_b: str) -> str:
    """How mean a compares with mean b: a gap counts only beyond two standard errors of the difference.

    The standard error comes from the seed-to-seed spread (sample std / sqrt(n) per side); with 3
    seeds a side this is a rough rule (about a 90% test), so gaps inside it are called unresolved.
    """
    gap = a["mean"] - b["mean"]
    if a.get("std") is None or b.get("std") is None:
        return f"{name_a} {a['mean']:.1f} vs {name_b} {b['mean']:.1f} ({gap:+.1f} points; one seed: no spread)"
    se = math.sqrt(a["std"] ** 2 / a["n"] + b["std"] ** 2 / b["n"])
    if abs(gap) > 2 * se:
        word = "higher" if gap > 0 else "lower"
        return f"{name_a} is {word} than {name_b} by {abs(gap):.1f} ± {se:.1f} points (more than 2 standard errors)"
    return (f"{name_a} and {name_b} are not resolved: {gap:+.1f} ± {se:.1f} points, within 2 standard errors "
            f"of the seed spread")


def paired(a_values: list[float], b_values: list[float]) -> dict:
    """Per-seed differences a - b (same seed, same warm start), their mean, std and standard error."""
    diffs = [x - y for x, y in zip(a_values, b_values)]
    n = len(diffs)
    mean = sum(diffs) / n
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else None
    return {"diffs": diffs, "mean": mean, "std": std, "se": None if std is None else std / math.sqrt(n), "n": n}


def paired_words(p: dict, what: str) -> str:
    per_seed = ", ".join(f"{d:+.1f}" for d in p["diffs"])
    if p["se"] is None:
        return f"{what}: {p['mean']:+.1f} points (one seed)"
    resolved = abs(p["mean"]) > 2 * p["se"]
    verdict = "resolved (beyond 2 standard errors)" if resolved else "not resolved (within 2 standard errors)"
    return f"{what}: {p['mean']:+.1f} ± {p['se']:.1f} points (per seed {per_seed}; {verdict})"


def label(training: dict, key: str) -> str:
    return training["models"][key]["label"]


def stat(training: dict, key: str, metric: str = "val_acc1") -> dict:
    return training["models"][key]["stats"][metric]


def seeds_text(training: dict) -> str:
    return ", ".join(map(str, training["seeds"]))


# ------------------------------------------------------------------ answer map
def answer_map(training: dict, attacks: dict, adversarial: dict, conv: dict) -> str:
    m = training["models"]
    acc = lambda k: pm(m[k]["stats"]["val_acc1"])  # noqa: E731
    att = attacks["models"]
    adv = adversarial["variants"]
    gap = paired(adv["adv_finetune"]["0.1"]["attacked"]["values"], adv["clean_finetune"]["0.1"]["attacked"]["values"])
    rows = [
        ["3.1.1 convolution (2 pts)", "`CustomConv2DFunction`: 1x1 as a matrix product, stride-1 kxk as implicit "
         "im2col (shifted GEMMs), strided kxk via unfold; equal to `F.conv2d` in float64, the course's "
         "`test_conv.py` passes", "[§1](#1-custom-unfold-convolution-vs-nnconv2d), `tests/miniplaces/test_conv.py`"],
        ["3.1.2 SimpleNet (1 pt): curves and evaluation", f"toy val top-1 {acc('simplenet')} % "
         f"({len(training['seeds'])} seeds); curves embedded", "[toy results](#toy-results-of-every-model)"],
        ["own convolution (1 pt): memory, speed, loss curve",
         f"saved for backward {conv['geomean_memory_ratio']:.2f}x, time per layer "
         f"{conv['geomean_time_ratio']:.2f}x (geometric mean), summed layers "
         f"{conv['sum_time_ratio']:.2f}x, training step {conv['step_time_ratio']:.2f}x `F.conv2d`'s (CPU); "
         f"loss curve = SimpleNet's up to rounding", "[§1](#1-custom-unfold-convolution-vs-nnconv2d)"],
        ["design your own CNN (1 pt)", f"`PlacesResNet` (BatchNorm, residual stages); toy val top-1 "
         f"{acc('places_resnet')} % vs SimpleNet {acc('simplenet')} %",
         "[§2](#2-our-cnn---use-own-cnn-placesresnet-in-student_codepy)"],
        ["fine-tune ResNet-18 (1 pt)", f"ImageNet weights not reachable offline: real fine-tuning **not run here**; "
         f"random-init ResNet-18 on the toy scenes {acc('resnet18')} % next to our CNN {acc('places_resnet')} %",
         "[§3](#3-comparison-with-resnet-18)"],
        ["3.2.1 self-attention (2 pts)", "`Attention` with `F.scaled_dot_product_attention`, equal to "
         "`nn.MultiheadAttention` with copied weights", "[§4](#4-vision-transformer-simplevit-in-student_codepy), "
         "`tests/miniplaces/test_vit.py`"],
        ["3.2.2 ViT (2 pts)", f"windowed/global blocks, mean pooling; toy val top-1 {acc('simplevit')} %",
         "[§4](#4-vision-transformer-simplevit-in-student_codepy)"],
        ["3.3 PGD (2 pts): accuracy drop, samples", f"SimpleNet {pm(att['simplenet']['0.1']['clean'])} -> "
         f"{pm(att['simplenet']['0.1']['attacked'])} % at the default epsilon 0.1, -> "
         f"{pm(att['simplenet']['0.3']['attacked'])} % at 0.3; samples embedded", "[§5](#5-pgd)"],
        ["bonus: adversarial training (+2)", f"fine-tune on a clean/PGD mix vs a clean fine-tune: attacked top-1 at "
         f"epsilon 0.1 {pm(adv['adv_finetune']['0.1']['attacked'])} vs {pm(adv['clean_finetune']['0.1']['attacked'])} "
         f"% (paired gap {gap['mean']:+.1f} points)", "[§6](#6-adversarial-training-bonus)"],
        ["writeup: modifications of `main.py`", "every difference from the course's `main.py`, with why",
         "[§0](#0-what-runs-where-and-how-our-mainpy-differs-from-the-courses)"],
    ]
    return table(["handout item", f"answer in one line ({DATA})", "evidence"], rows)


# ------------------------------------------------------------------ the run
def setup_block(training: dict, run: dict) -> str:
    d = training["dataset"]
    rows = [[m["label"], f"{m['runs'][0]['params']:,}", m["epochs"], len(m["runs"]), f"`{' '.join(m['flags'])}`"]
            for m in training["models"].values()]
    ft = training["finetune"]
    load = f"{run['load_average_start']:.1f} at the start, {run['load_average_end']:.1f} at the end"
    return (f"Data: {training['data']}, written by `python -m miniplaces.toy_data` ({d['classes']} classes, "
            f"{d['train_per_class']} training and {d['val_per_class']} validation images per class, {d['size']} px, "
            f"generator seed {d['seed']}; chance {100 / d['classes']:.0f}%). Every run: `main.py` with "
            f"`--num-classes {d['classes']} --image-size {d['size']} -b {training['batch_size']} -j 0` and the flags "
            f"below; seeds {seeds_text(training)}.\n\n"
            + table(["model", "parameters", "epochs", "seeds", "flags"], rows)
            + f"\nAdversarial training (bonus) and its control: {ft['epochs']} epochs from each seed's SimpleNet "
              f"checkpoint with `{' '.join(ft['flags'])}`, the adversarial one adding "
              f"`{' '.join(ft['adv_flags'])}`.\n\n"
              f"The whole command took {run['seconds'] / 60:.1f} min of wall time on {run['cpus']} CPU cores shared "
              f"with other jobs (load average {load}; {run['device']}, torch {run['torch']}).\n")


def models_block(training: dict, fig) -> str:
    rows = []
    for key, m in training["models"].items():
        s = m["stats"]
        rows.append([m["label"], f"{m['runs'][0]['params']:,}", m["epochs"], len(m["runs"]), pm(s["val_acc1"]),
                     pm(s["flip_val_acc1"]), pm(s["best_val_acc1"]), pm(s["train_acc1"])])
    return (f"Top-1 accuracy (%) on the {training['dataset']['classes'] * training['dataset']['val_per_class']} "
            f"validation images, mean ± sample std over the seeds ({DATA}). *last epoch*: the model at the end of "
            "training; *flip-averaged*: the same model, logits of each image and its mirror averaged (what `-e` "
            "reports); *best epoch*: the highest validation top-1 of any epoch (the checkpoint `model_best.pth.tar` "
            "keeps, which the attacks use; picked on validation, so optimistic); *train*: running accuracy over the "
            "last epoch's augmented batches.\n\n"
            + table(["model", "parameters", "epochs", "seeds", "val top-1, last epoch", "flip-averaged",
                     "best epoch", "train top-1 (augmented)"], rows)
            + "\n" + fig("val_top1_all.png"))


def convergence_block(training: dict) -> str:
    rows = []
    for m in training["models"].values():
        gains = [r["plateau_gain"] for r in m["runs"]]
        rows.append([m["label"], m["epochs"], pm(m["stats"]["plateau_gain"]),
                     ", ".join("–" if g is None else f"{g:+.1f}" for g in gains)])
    longer = []
    for key, lg in training["longer"].items():
        short = next(r for r in training["models"][key]["runs"] if r["seed"] == lg["seed"])
        long = lg["long"]
        longer.append([label(training, key), lg["seed"], f"{lg['short_epochs']} -> {lg['epochs']}",
                       f"{short['val_acc1']:.1f} -> {long['val_acc1']:.1f}",
                       f"{short['flip_val_acc1']:.1f} -> {long['flip_val_acc1']:.1f}",
                       f"{long['val_acc1'] - short['val_acc1']:+.1f}",
                       pm(training["models"][key]["stats"]["val_acc1"])])
    return ("*Plateau gain*: the best validation top-1 of the last quarter of the epochs minus the best before it "
            "(`common.results.plateau_gain`; about zero: validation had stopped improving).\n\n"
            + table(["model", "epochs", "plateau gain (points)", "per seed"], rows)
            + "\nTwice as long (same seed, same recipe, the cosine stretched over twice the epochs):\n\n"
            + table(["model", "seed", "epochs", "val top-1, last epoch", "flip-averaged", "change",
                     f"the {len(training['seeds'])} seeds of the normal schedule"], longer))


# ------------------------------------------------------------------ section 1
def conv_speed_block(conv: dict) -> str:
    rows = [[r["layer"].strip(), f"{r['custom_ms']:.1f}", f"{r['torch_ms']:.1f}", f"{r['time_ratio']:.2f}",
             f"{r['memory_ratio']:.2f}", f"{r['custom_peak_MB']:.1f} / {r['torch_peak_MB']:.1f}",
             f"{r['peak_ratio']:.2f}"] for r in conv["rows"]]
    rows.append(["**geometric mean over layers**", "", "", f"**{conv['geomean_time_ratio']:.2f}**",
                 f"**{conv['geomean_memory_ratio']:.2f}**", "", f"**{conv['geomean_peak_ratio']:.2f}**"])
    rows.append(["**sum over layers** (the whole model's convolutions)", f"{conv['sum_custom_ms']:.1f}",
                 f"{conv['sum_torch_ms']:.1f}", f"**{conv['sum_time_ratio']:.2f}**", "", "", ""])
    rows.append(["**SimpleNet training step** (forward, backward, SGD)", f"{conv['custom_step_ms']:.1f}",
                 f"{conv['torch_step_ms']:.1f}", f"**{conv['step_time_ratio']:.2f}**", "", "", ""])
    load = "unknown" if conv.get("load_average") is None else f"{conv['load_average']:.1f}"
    return (f"`{conv['command']}`: {conv['device'].upper()}, {conv['torch_threads']} torch threads, batch "
            f"{conv['batch_size']}, {conv['image_size']}x{conv['image_size']} input, median of {conv['reps']} "
            f"interleaved repetitions, load average {load} on {conv['cpus']} cores when it finished; custom / "
            "`F.conv2d` (random tensors, not an image set):\n\n"
            + table(["layer", "custom ms", "F.conv2d ms", "time ratio", "saved ratio", "peak MB custom / torch",
                     "peak ratio"], rows)
            + f"\nThe per-layer geometric mean ({conv['geomean_time_ratio']:.2f}x) weighs every layer alike; the "
              f"whole model is what training pays: {conv['sum_time_ratio']:.2f}x summed over the layers and "
              f"{conv['step_time_ratio']:.2f}x for a training step (which adds the ReLUs, pooling, loss and optimizer "
              "that both share).\n")


def conv_training_block(training: dict, fig) -> str:
    sn = training["models"]["simplenet"]["runs"][0]
    cc = training["models"]["simplenet_customconv"]["runs"][0]
    losses = training["conv_losses"]
    rows = [[label(training, k), r["seed"], r["epochs"], f"{r['train_loss']:.4f}", f"{r['val_acc1']:.1f}",
             f"{r['flip_val_acc1']:.1f}", f"{r['saved_activation_MB']:.2f}"]
            for k, r in (("simplenet", sn), ("simplenet_customconv", cc))]
    first = losses["first_apart_1e-4"]
    apart = ("never differ by more than 1e-4 (relative)" if first is None else
             f"agree to 1e-4 (relative) for the first {first} iterations, then drift apart")
    return (table(["model", "seed", "epochs", "final train loss", "val top-1", "flip-averaged",
                   "MB saved for backward per step"], rows)
            + f"\nPer-iteration training losses ({losses['iterations']} iterations, same seed): they {apart}; the "
              f"largest difference over the run is {losses['max_abs_diff']:.3f}. SimpleNet over "
              f"{len(training['seeds'])} seeds: {pm(stat(training, 'simplenet'))} % (last epoch).\n\n"
            + fig("conv_loss_curves.png") + "\n" + fig("curves_simplenet_customconv.png"))


# ------------------------------------------------------------------ sections 2-4
def own_cnn_block(models: dict) -> str:
    own, sn = models["places_resnet"], models["simplenet"]
    return (compare(own["stats"]["val_acc1"], sn["stats"]["val_acc1"], "our CNN", "SimpleNet")
            + f" (last-epoch val top-1, {own['stats']['val_acc1']['n']} seeds each; flip-averaged "
              f"{pm(own['stats']['flip_val_acc1'])} vs {pm(sn['stats']['flip_val_acc1'])}).\n")


def resnet18_block(models: dict) -> str:
    own, r18 = models["places_resnet"], models["resnet18"]
    rows = [[m["label"], f"{m['runs'][0]['params']:,}", m["epochs"], pm(m["stats"]["val_acc1"]),
             pm(m["stats"]["flip_val_acc1"]), pm(m["stats"]["train_acc1"]), pm(m["stats"]["plateau_gain"])]
            for m in (own, r18)]
    return (table(["model", "parameters", "epochs", "val top-1", "flip-averaged", "train top-1 (augmented)",
                   "plateau gain"], rows)
            + "\n" + compare(r18["stats"]["val_acc1"], own["stats"]["val_acc1"], "ResNet-18 (random init)", "our CNN")
            + ".\n")


def vit_block(models: dict, attacks: dict) -> str:
    vit = models["simplevit"]["stats"]["val_acc1"]
    lines = [compare(vit, models[k]["stats"]["val_acc1"], "the ViT", models[k]["label"])
             for k in ("simplenet", "places_resnet", "resnet18")]
    best = max(models, key=lambda k: models[k]["stats"]["val_acc1"]["mean"])
    return ("Last-epoch validation top-1: " + "; ".join(lines) + ". Highest mean of all models: "
            f"{models[best]['label']} ({pm(models[best]['stats']['val_acc1'])} %).\n")


# ------------------------------------------------------------------ section 5
def attack_block(training: dict, attacks: dict, fig) -> str:
    rows = []
    for key, by_eps in attacks["models"].items():
        row = [label(training, key), by_eps["0.1"]["clean"]["n"], pm(by_eps["0.1"]["clean"])]
        for eps in ("0.1", "0.3"):
            row += [pm(by_eps[eps]["attacked"]), pm(by_eps[eps]["drop"])]
        rows.append(row)
    s = attacks["settings"]
    return (f"Best checkpoints, all validation images, least-likely-target L-inf PGD of 10 steps (epsilon "
            f"{s['0.1']['epsilon']:g} with step {s['0.1']['step_size']:g}: `main.py -a`'s default; epsilon "
            f"{s['0.3']['epsilon']:g} with step {s['0.3']['step_size']:g}), in ImageNet-normalised units "
            f"(0.1 is about 6/255 of the pixel range); top-1 in %, mean ± std over seeds ({DATA}):\n\n"
            + table(["model", "seeds", "clean", "PGD eps 0.1", "drop", "PGD eps 0.3", "drop"], rows)
            + "\n" + fig("robustness_models.png"))


def grid_block(attacks: dict) -> str:
    grid = attacks["grid"]
    eps = sorted({r["epsilon"] for r in grid})
    steps = sorted({r["steps"] for r in grid})
    cell = {(r["steps"], r["epsilon"]): r for r in grid}
    rows = [[n] + [f"{cell[(n, e)]['clean_acc1']:.1f} -> {cell[(n, e)]['attacked_acc1']:.1f} "
                   f"(step {cell[(n, e)]['step_size']:g})" for e in eps] for n in steps]
    images = "all validation images" if attacks.get("grid_batches") is None else \
        f"the first {attacks['grid_batches']} validation batch(es)"
    return (f"`main.py -a --attack-grid` on {attacks['grid_model']} ({DATA}), {images}, top-1 clean -> "
            "attacked (%), step size min(eps, 2.5 eps / steps):\n\n"
            + table(["steps"] + [f"epsilon {e:g}" for e in eps], rows))


# ------------------------------------------------------------------ section 6
def adv_block(adversarial: dict, fig) -> str:
    v = adversarial["variants"]
    rows = [[v[k]["label"], pm(v[k]["0.1"]["clean"]), pm(v[k]["0.1"]["attacked"]), pm(v[k]["0.3"]["attacked"])]
            for k in v]
    adv, ctrl = v["adv_finetune"], v["clean_finetune"]
    lines = [paired_words(paired(adv[e]["attacked"]["values"], ctrl[e]["attacked"]["values"]),
                          f"attacked top-1 at epsilon {e}, adversarial minus clean fine-tune") for e in ("0.1", "0.3")]
    lines.append(paired_words(paired(adv["0.1"]["clean"]["values"], ctrl["0.1"]["clean"]["values"]),
                              "clean top-1, adversarial minus clean fine-tune"))
    lines.append(paired_words(paired(adv["0.1"]["attacked"]["values"], v["warm_start"]["0.1"]["attacked"]["values"]),
                              "attacked top-1 at epsilon 0.1, adversarial fine-tune minus its warm start"))
    cost = f"{adv['seconds']['mean'] / ctrl['seconds']['mean']:.1f}"
    return (f"Top-1 (%) of the best checkpoints, mean ± std over seeds {', '.join(map(str, adversarial['seeds']))} "
            f"({DATA}); every fine-tune starts from the SimpleNet of its own seed:\n\n"
            + table(["model", "clean", "PGD eps 0.1 (the training bound)", "PGD eps 0.3"], rows)
            + "\nPaired by seed (same warm start, same batches):\n\n" + "\n".join(f"* {line}" for line in lines)
            + f"\n\nWall time of the adversarial fine-tune (training and its attacks) was {cost}x the clean one's "
              "(one machine shared by other jobs, so only a rough figure).\n\n"
            + fig("adversarial_training.png") + "\n" + fig("curves_adv_finetune.png"))


# ------------------------------------------------------------------ README
def readme_block(training: dict, attacks: dict, adversarial: dict, run: dict) -> str:
    rows = []
    for key, m in training["models"].items():
        a = attacks["models"][key]
        rows.append([m["label"], f"{m['runs'][0]['params']:,}", m["epochs"], len(m["runs"]), pm(m["stats"]["val_acc1"]),
                     pm(m["stats"]["flip_val_acc1"]), pm(a["0.1"]["attacked"]), pm(a["0.3"]["attacked"])])
    v = adversarial["variants"]
    for k in ("clean_finetune", "adv_finetune"):
        rows.append([f"SimpleNet {v[k]['label'].lstrip('+ ')}", "", f"+{adversarial['finetune_epochs']}",
                     v[k]["0.1"]["clean"]["n"], pm(v[k]["stats"]["val_acc1"]), pm(v[k]["stats"]["flip_val_acc1"]),
                     pm(v[k]["0.1"]["attacked"]), pm(v[k]["0.3"]["attacked"])])
    return (f"{training['data']} ({training['dataset']['classes']} classes, {training['dataset']['size']} px; "
            f"**not MiniPlaces**), `python -m miniplaces.results` (recipe and every flag: `ANSWERS.md`, section "
            f"\"Toy results of every model\"); top-1 in %, mean ± std over seeds; PGD columns attack the best "
            f"checkpoint (10 steps; epsilon 0.1 is the default attack). The command took {run['seconds'] / 60:.1f} "
            f"min on {run['cpus']} shared CPU cores (load average {run['load_average_start']:.1f} -> "
            f"{run['load_average_end']:.1f}).\n\n"
            + table(["model", "parameters", "epochs", "seeds", "val top-1", "flip-averaged", "PGD eps 0.1",
                     "PGD eps 0.3"], rows))


def readme_conv_block(conv: dict) -> str:
    load = "unknown" if conv.get("load_average") is None else f"{conv['load_average']:.1f}"
    return (f"`{conv['command']}` (CPU, {conv['torch_threads']} threads, batch {conv['batch_size']}, "
            f"{conv['image_size']}x{conv['image_size']}, median of {conv['reps']}, load average {load}): time ratio "
            f"custom / `F.conv2d` **{conv['geomean_time_ratio']:.2f}x** per layer (geometric mean), "
            f"**{conv['sum_time_ratio']:.2f}x** summed over SimpleNet's layers, **{conv['step_time_ratio']:.2f}x** "
            f"for a whole SimpleNet training step; saved-for-backward memory {conv['geomean_memory_ratio']:.2f}x, "
            f"transient peak {conv['geomean_peak_ratio']:.2f}x (geometric means). Per layer: `ANSWERS.md` section 1.\n")
