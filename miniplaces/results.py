"""miniplaces' committed results: every model of the handout on the toy scenes (not MiniPlaces), fixed seeds.

    python -m miniplaces.results               # see results/run.json for its time -> miniplaces/results/ + the docs
    python -m miniplaces.results --docs-only   # re-render ANSWERS.md / README.md blocks from results/
    python -m miniplaces.results --quick       # smoke run into logs/results_quick/ (docs untouched)

Recipe: write the toy scenes in the real MiniPlaces layout (``miniplaces.toy_data``: 10 classes,
100 training / 50 validation images per class, 32 px); train every model through ``main.py``
with the course recipe (SGD, or AdamW for the ViT, linear warmup + cosine decay per iteration,
the course augmentation, fp32, logit flip averaging; batch 32 for 1,000 images) for seeds 2024
(the course's), 2025 and 2026: SimpleNet, our CNN (PlacesResNet), torchvision's ResNet-18 from
random initialisation and the ViT; the unfold-convolution SimpleNet for seed 2024 (the same
function as SimpleNet: same seed, same initial weights and batches); attack every best
checkpoint with the default PGD (epsilon 0.1) and with epsilon 0.3; warm-start SimpleNet of each
seed into a clean/PGD fine-tune (adversarial training) and into a clean fine-tune of the same
length (the control); run every model but the unfold-conv twin twice as long once (seed 2024)
to check convergence.  Runs are independent processes with one torch thread each (the numbers do not
depend on how many run at once), as many at a time as there are cores.  The conv benchmark
(``results/conv_speed.json``) is written by ``python -m miniplaces.bench --reps 7 --results``,
not by this command.  Every number and figure the docs quote comes from the JSON and PNGs this
writes (rendered by :mod:`miniplaces.results_docs`).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from common.results import ResultsDir, plateau_gain, results_main

HERE = Path(__file__).resolve().parent
RESULTS = ResultsDir(HERE / "results")
DOCS = [HERE / "ANSWERS.md", HERE / "README.md"]


@dataclass(frozen=True)
class Model:
    """One network of the comparison: how main.py selects it, how it trains, for how long."""

    label: str
    arch: tuple[str, ...]      # model flags (also passed to -a, which rebuilds the model)
    train: tuple[str, ...]     # training-only flags
    epochs: int
    seeds: int = 3             # how many of Plan.seeds


SGD = ("--lr", "0.05", "--warmup", "2")
MODELS = {  # epochs: long enough that a run twice as long ends at the same accuracy (checked by every results run)
    "simplenet": Model("SimpleNet", (), SGD, 80),
    "simplenet_customconv": Model("SimpleNet, unfold conv", ("--use-custom-conv",), SGD, 80, seeds=1),
    "places_resnet": Model("our CNN (PlacesResNet, width 16)", ("--arch", "places_resnet", "--own-cnn-width", "16"),
                           SGD, 120),
    "resnet18": Model("ResNet-18 (torchvision, random init)",
                      ("--arch", "resnet18_finetune", "--pretrained-weights", "none"), SGD, 60),
    "simplevit": Model("SimpleViT (patch 8)", ("--use-vit", "--vit-patch-size", "8"),
                       ("--lr", "2e-3", "--wd", "0.05", "--warmup", "2"), 100),
}
# Bonus: fine-tune from SimpleNet's best checkpoint (warm start, as the handout's cost warning and our
# README recommend); the training attack is cheaper than the evaluation attack (5 steps of 0.025) at
# the default bound 0.1, half of each batch attacked (--adv-fraction 0.5).
FINETUNE = ("--lr", "0.02", "--warmup", "1")
ADV = ("--adv-train", "--attack-steps", "5", "--attack-step-size", "0.025", "--attack-epsilon", "0.1")
VARIANTS = {"warm_start": "SimpleNet (the warm start)", "clean_finetune": "+ clean fine-tune (control)",
            "adv_finetune": "+ adversarial fine-tune"}
ATTACKS = {"0.1": "0.01", "0.3": "0.03"}  # epsilon -> step size, 10 steps each; 0.1 / 0.01 is main.py's default
HISTORY_KEYS = ("epoch", "train_loss", "train_acc1", "train_acc5", "train_lr", "val_loss", "val_acc1", "val_acc5")
KEEP = ("params", "epochs", "val_acc1", "val_acc5", "best_val_acc1", "flip_val_acc1", "flip_val_acc5", "train_acc1",
        "train_loss", "val_loss", "seconds_per_iter", "saved_activation_MB")
SUMMARY = ("val_acc1", "best_val_acc1", "flip_val_acc1", "train_acc1", "plateau_gain")


@dataclass
class Plan:
    """Sizes of one results run (full or --quick)."""

    data: dict = field(default_factory=lambda: dict(classes=10, train_per_class=100, val_per_class=50, size=32,
                                                    seed=0))
    seeds: tuple = (2024, 2025, 2026)
    epochs: int | None = None                  # None: each model's own; else every model trains this long
    longer: tuple = ("simplenet", "places_resnet", "resnet18", "simplevit")  # twice as long once (first seed)
    finetune_epochs: int = 10
    grid_batches: int | None = None            # --attack-grid-batches (None: all of validation)


FULL = Plan()
QUICK = Plan(data=dict(classes=4, train_per_class=16, val_per_class=10, size=32, seed=0), seeds=(2024,), epochs=2,
             finetune_epochs=1, grid_batches=1)


# ------------------------------------------------------------------ experiments
def run(results: ResultsDir, work: Path, quick: bool, device: str) -> None:
    import torch

    torch.set_num_threads(1)  # figures only here; the runs are separate single-threaded processes
    plan = QUICK if quick else FULL
    from miniplaces.toy_data import make_toy_miniplaces

    data = make_toy_miniplaces(work / "toy_data", **plan.data)
    if results.path != RESULTS.path:  # --quick: the docs also quote the conv benchmark, which this does not run
        results.write_json("conv_speed", RESULTS.read_json("conv_speed"))
    base = [str(data), "--num-classes", str(plan.data["classes"]), "--image-size", str(plan.data["size"]), "-b", "32",
            "-j", "0", "--no-amp", "--quiet", "-p", "1", "--device", device]
    runs = run_jobs(model_jobs(plan, base, work), lambda job, res: finetune_jobs(plan, base, work, job),
                    workers=min(8, os.cpu_count() or 1))
    label = next(iter(runs.values()))["data"]
    training = summarise_training(runs, plan, label)
    attacks = summarise_attacks(runs, plan)
    adversarial = summarise_adversarial(runs, plan)
    results.write_json("training", training)
    results.write_json("attacks", attacks)
    results.write_json("adversarial", adversarial)
    from miniplaces.results_figures import make_figures

    make_figures(results, runs, training, attacks, adversarial, work / "figures")


def model_jobs(plan: Plan, base: list[str], work: Path) -> list[dict]:
    """The training runs (each followed by its attacks), the ones that unlock others first."""
    jobs = []
    for key, model in MODELS.items():
        epochs = plan.epochs or model.epochs
        for i, seed in enumerate(plan.seeds[:model.seeds]):
            vis = key == "simplenet" and i == 0  # the adversarial samples and the steps x epsilon grid
            jobs.append(job(f"{key}_s{seed}", key, seed, base, model.arch, [*model.train, "--epochs", str(epochs)],
                            work, attacks=[attack(eps, vis=vis, grid=vis and eps == "0.1", plan=plan)
                                           for eps in ATTACKS],
                            iter_losses=key in ("simplenet", "simplenet_customconv") and i == 0))
        if key in plan.longer:
            seed = plan.seeds[0]
            jobs.append(job(f"{key}_long_s{seed}", key, seed, base, model.arch,
                            [*model.train, "--epochs", str(2 * epochs)], work))
    # Longest first (makespan), SimpleNet's seeds before all (they unlock the fine-tunes); seconds per epoch
    # measured on an idle core: ViT 2.9, ResNet-18 5, SimpleNet 1.3, our CNN 0.9.
    cost = {"simplevit": 2.9, "resnet18": 5.0, "simplenet": 1.3, "simplenet_customconv": 1.7, "places_resnet": 0.9}

    def order(j):
        epochs = int(j["train"][j["train"].index("--epochs") + 1])
        return j["key"] != "simplenet" or "long" in j["name"], -cost[j["key"]] * epochs

    return sorted(jobs, key=order)


def finetune_jobs(plan: Plan, base: list[str], work: Path, done: dict) -> list[dict]:
    """After SimpleNet of a seed: its adversarial fine-tune and the clean control, both from its best checkpoint."""
    if done["key"] != "simplenet" or "long" in done["name"]:
        return []
    seed, best = done["seed"], str(Path(done["logdir"]) / "models" / "model_best.pth.tar")
    train = [*FINETUNE, "--epochs", str(plan.finetune_epochs), "--init", best]
    return [job(f"{variant}_s{seed}", variant, seed, base, (), [*train, *extra], work,
                attacks=[attack(eps, plan=plan) for eps in ATTACKS])
            for variant, extra in (("adv_finetune", ADV), ("clean_finetune", ()))]


def job(name: str, key: str, seed: int, base: list[str], arch, train: list[str], work: Path, *,
        attacks: list[dict] = (), iter_losses: bool = False) -> dict:
    return {"name": name, "key": key, "seed": seed, "base": base, "arch": list(arch), "train": list(train),
            "logdir": str(work / name), "attacks": list(attacks), "iter_losses": iter_losses}


def attack(eps: str, *, plan: Plan, vis: bool = False, grid: bool = False) -> dict:
    return {"eps": eps, "step": ATTACKS[eps], "vis": vis, "grid": grid, "grid_batches": plan.grid_batches}


def run_jobs(jobs: list[dict], followups, workers: int) -> dict[str, dict]:
    """Run every job in its own process, ``workers`` at a time; ``followups(job, result)`` adds jobs."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    results: dict[str, dict] = {}
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending = {pool.submit(execute, j): j for j in jobs}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                done = pending.pop(future)
                results[done["name"]] = {**done, **future.result()}
                print(f"results: {done['name']} done ({results[done['name']]['seconds']:.0f} s); "
                      f"{len(pending)} running or queued", flush=True)
                for nxt in followups(done, results[done["name"]]):
                    pending[pool.submit(execute, nxt)] = nxt
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


def execute(job: dict) -> dict:
    """One job, in a worker process: train through main.py, then attack the best checkpoint."""
    import torch

    torch.set_num_threads(1)  # one thread: reproducible float sums whatever runs beside it
    from miniplaces import main as mp_main

    t0 = time.perf_counter()
    run_dir = Path(job["logdir"])
    argv = [*job["base"], *job["arch"], *job["train"], "--seed", str(job["seed"]), "--logdir", str(run_dir)]
    metrics = mp_main.main(argv)
    history = torch.load(run_dir / "models" / "checkpoint.pth.tar", map_location="cpu", weights_only=True)["history"]
    out = {"data": metrics["data"], "metrics": {k: metrics.get(k) for k in KEEP},
           "history": [{k: h.get(k) for k in HISTORY_KEYS} for h in history], "attacks": {}}
    best = run_dir / "models" / "model_best.pth.tar"
    for a in job["attacks"]:
        adir = run_dir.parent / f"{run_dir.name}_attack_eps{a['eps']}"
        flags = ["-a", "--resume", str(best), "--attack-epsilon", a["eps"], "--attack-step-size", a["step"],
                 "--logdir", str(adir)] + ["-v"] * a["vis"]
        if a["grid"]:
            limit = ["--attack-grid-batches", str(a["grid_batches"])] if a["grid_batches"] else []
            flags += ["--attack-grid", *limit]
        lr = job["train"][job["train"].index("--lr"):][:2] if "--lr" in job["train"] else []  # no AdamW-LR warning
        m = mp_main.main([*job["base"], *job["arch"], *lr, *flags])
        out["attacks"][a["eps"]] = {k: m[k] for k in ("attack_clean_acc1", "attack_acc1", "attack_clean_acc5",
                                                       "attack_acc5", "attack_linf", "attack")}
        if a["vis"]:
            out["attacks"][a["eps"]]["samples"] = str(adir / "figures" / "adversarial_samples.png")
        if a["grid"]:
            out["grid"] = json.loads((adir / "pgd_table.json").read_text())["rows"]
    if job["iter_losses"]:
        from miniplaces.demo import iteration_losses

        out["iter_losses"] = iteration_losses(run_dir)
    out["seconds"] = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------ summaries
def stat(values: list[float | None]) -> dict:
    """Mean and sample standard deviation (None for one value) over seeds, with the values."""
    import statistics

    values = [v for v in values if v is not None]
    if not values:
        return {"mean": None, "std": None, "values": [], "n": 0}
    std = statistics.stdev(values) if len(values) > 1 else None
    return {"mean": statistics.fmean(values), "std": std, "values": values, "n": len(values)}


def seed_runs(runs: dict, key: str, plan: Plan) -> list[dict]:
    return [runs[f"{key}_s{seed}"] for seed in plan.seeds if f"{key}_s{seed}" in runs]


def run_summary(r: dict) -> dict:
    return {"seed": r["seed"], **r["metrics"], "plateau_gain": plateau_gain(r["history"], "val_acc1"),
            "val_curve": [h["val_acc1"] for h in r["history"]], "seconds": r["seconds"]}


def summarise_training(runs: dict, plan: Plan, label: str) -> dict:
    models = {}
    for key, model in MODELS.items():
        rows = [run_summary(r) for r in seed_runs(runs, key, plan)]
        models[key] = {"label": model.label, "flags": [*model.arch, *model.train], "epochs": rows[0]["epochs"],
                       "runs": rows, "stats": {m: stat([r[m] for r in rows]) for m in SUMMARY},
                       "history_seed0": seed_runs(runs, key, plan)[0]["history"]}
    longer = {}
    for key in plan.longer:
        long, short = runs[f"{key}_long_s{plan.seeds[0]}"], runs[f"{key}_s{plan.seeds[0]}"]
        longer[key] = {"seed": plan.seeds[0], "epochs": long["metrics"]["epochs"], "long": run_summary(long),
                       "short_epochs": short["metrics"]["epochs"]}
    sn, cc = runs[f"simplenet_s{plan.seeds[0]}"], runs[f"simplenet_customconv_s{plan.seeds[0]}"]
    return {"data": label, "dataset": plan.data, "seeds": list(plan.seeds), "batch_size": 32, "models": models,
            "longer": longer, "conv_losses": conv_losses(sn["iter_losses"], cc["iter_losses"]),
            "finetune": {"epochs": plan.finetune_epochs, "flags": list(FINETUNE), "adv_flags": list(ADV)}}


def conv_losses(torch_losses: list[float], custom_losses: list[float]) -> dict:
    """Per-iteration training losses of SimpleNet with nn.Conv2d and with the unfold conv (same seed)."""
    n = min(len(torch_losses), len(custom_losses))
    apart = [i for i in range(n) if abs(torch_losses[i] - custom_losses[i]) > 1e-4 * abs(torch_losses[i])]
    return {"torch": [round(v, 6) for v in torch_losses], "custom": [round(v, 6) for v in custom_losses],
            "iterations": n, "first_apart_1e-4": apart[0] if apart else None,
            "max_abs_diff": max(abs(a - b) for a, b in zip(torch_losses[:n], custom_losses[:n]))}


def attack_stats(rows: list[dict], eps: str) -> dict:
    per_seed = [{"seed": r["seed"], **{k: v for k, v in r["attacks"][eps].items() if k != "samples"}} for r in rows]
    return {"runs": per_seed, "clean": stat([p["attack_clean_acc1"] for p in per_seed]),
            "attacked": stat([p["attack_acc1"] for p in per_seed]),
            "drop": stat([p["attack_clean_acc1"] - p["attack_acc1"] for p in per_seed])}


def summarise_attacks(runs: dict, plan: Plan) -> dict:
    first = runs[f"simplenet_s{plan.seeds[0]}"]
    return {"settings": {eps: {"epsilon": float(eps), "step_size": float(step), "steps": 10}
                         for eps, step in ATTACKS.items()},
            "models": {key: {eps: attack_stats(seed_runs(runs, key, plan), eps) for eps in ATTACKS} for key in MODELS},
            "grid": first["grid"], "grid_model": f"simplenet seed {plan.seeds[0]}", "grid_batches": plan.grid_batches}


def summarise_adversarial(runs: dict, plan: Plan) -> dict:
    variants = {"warm_start": seed_runs(runs, "simplenet", plan),
                "clean_finetune": seed_runs(runs, "clean_finetune", plan),
                "adv_finetune": seed_runs(runs, "adv_finetune", plan)}
    out = {"variants": {}, "finetune_epochs": plan.finetune_epochs, "flags": list(FINETUNE), "adv_flags": list(ADV),
           "seeds": list(plan.seeds)}
    for name, rows in variants.items():
        out["variants"][name] = {"label": VARIANTS[name], **{eps: attack_stats(rows, eps) for eps in ATTACKS}}
        if name != "warm_start":
            summaries = [run_summary(r) for r in rows]
            out["variants"][name].update({"runs": summaries, "stats": {m: stat([s[m] for s in summaries])
                                                                       for m in SUMMARY},
                                          "history_seed0": rows[0]["history"],
                                          "seconds": stat([r["seconds"] for r in rows])})
    return out


# ------------------------------------------------------------------ doc blocks
def blocks(results: ResultsDir = RESULTS) -> dict[str, str]:
    from miniplaces.results_docs import render

    return render(results, HERE)


def main(argv=None) -> ResultsDir:
    return results_main(argv, assignment="miniplaces", description=__doc__.split("\n\n")[0], results=RESULTS,
                        docs=DOCS, blocks=blocks, run=run)


if __name__ == "__main__":
    from common.errors import cli_main

    cli_main(main)()
