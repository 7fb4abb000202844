"""Demo stage: toy MiniPlaces -> four models -> evaluation -> PGD -> report figures (CPU, minutes).

    python -m miniplaces.demo --out logs/demo_miniplaces [--quick]    # writes OUT/miniplaces/...

Writes a toy dataset in the real MiniPlaces layout (small images so it fits a CPU
budget), trains SimpleNet, SimpleNet with the unfold convolution, our residual CNN
and SimpleViT through ``main.py``, attacks each with the default PGD, sweeps PGD over
steps x epsilon for SimpleNet, and compares custom vs torch convolution (seconds per
iteration, saved activations, loss curves).  Every number is labelled as toy data.
"""
from __future__ import annotations

import pathlib

from common.cli import demo_parser
from common.errors import cli_main
from common.io import atomic_write_text


def build_parser():
    return demo_parser(__doc__.split("\n\n")[0], out_help="output folder (toy data, one run directory per model)",
                       quick_help="two models (SimpleNet, custom conv), few epochs, 600 training images")


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

from common.plotting import markdown_table, plot_overlaid_curves, plot_table  # noqa: E402
from common.rundir import RunDir  # noqa: E402

from miniplaces import main as mp_main  # noqa: E402
from miniplaces.toy_data import make_toy_miniplaces  # noqa: E402

# Sized for about 3 minutes on 2 CPU cores (make demo's budget).  The unfold convolution trains
# ~10x slower than nn.Conv2d on a CPU, so its run is the comparison's first 2 epochs only: same
# seed, data and initialisation as SimpleNet, so both loss curves start identical.
MODELS = {  # name -> (main.py flags, epochs full, epochs quick)
    "simplenet": ([], 6, 5),
    "simplenet_customconv": (["--use-custom-conv"], 2, 2),
    "own_cnn": (["--use-own-cnn", "--own-cnn-width", "16"], 4, 4),
    "simplevit": (["--use-vit", "--vit-patch-size", "8", "--lr", "2e-3", "--wd", "0.05"], 8, 4),
}
QUICK_MODELS = ("simplenet", "simplenet_customconv")


def toy_dataset(out_root: pathlib.Path, quick: bool) -> pathlib.Path:
    classes = 10
    return make_toy_miniplaces(out_root / "toy_data", classes=classes, train_per_class=60,
                               val_per_class=10 if quick else 20, size=32, seed=0)


def common_flags(data: pathlib.Path, device: str) -> list[str]:
    return [str(data), "--num-classes", "10", "--image-size", "32", "-b", "32", "-j", "0", "--warmup", "1",
            "--device", device, "--quiet", "-p", "1", "--no-amp"]


def train_and_attack(name: str, data: pathlib.Path, out_root: pathlib.Path, quick: bool, device: str):
    """Train one model, then attack its best checkpoint; returns (train run, attack run, metrics)."""
    flags, epochs, quick_epochs = MODELS[name]
    run_dir, attack_dir = out_root / name, out_root / f"{name}_attack"
    base = common_flags(data, device) + flags
    lr = [] if "--lr" in flags else ["--lr", "0.05"]
    train = mp_main.main(base + lr + ["--epochs", str(quick_epochs if quick else epochs), "--logdir", str(run_dir)])
    # The steps x epsilon sweep attacks 32 validation images 9 times; the default attack all of them.
    grid = ["--attack-grid", "--attack-grid-batches", "1"] if name == "simplenet" else []
    limit = ["--attack-max-batches", "2"] if quick else []
    best = run_dir / "models" / "model_best.pth.tar"
    attacked = mp_main.main(base + ["-a", "-v", *grid, *limit, "--resume", str(best), "--logdir", str(attack_dir)])
    return run_dir, attack_dir, {**train, **attacked}


def adversarial_training(data: pathlib.Path, out_root: pathlib.Path, device: str):
    """Bonus: warm-start SimpleNet from its clean checkpoint, fine-tune on a clean/PGD mix, attack again."""
    run_dir, attack_dir = out_root / "simplenet_advtrain", out_root / "simplenet_advtrain_attack"
    base = common_flags(data, device)
    warm = out_root / "simplenet" / "models" / "model_best.pth.tar"
    # Training attack: 5 steps of 0.025 (cheaper than the 10-step evaluation attack, same epsilon).
    train = mp_main.main(base + ["--adv-train", "--init", str(warm), "--attack-steps", "5", "--attack-step-size",
                                 "0.025", "--lr", "0.02", "--epochs", "2", "--logdir", str(run_dir)])
    attacked = mp_main.main(base + ["-a", "--resume", str(run_dir / "models" / "model_best.pth.tar"),
                                    "--logdir", str(attack_dir)])
    return run_dir, attack_dir, {**train, **attacked}


def iteration_losses(run_dir: pathlib.Path) -> list[float]:
    """Per-iteration training loss the engine logged to TensorBoard (``train/loss_iter``)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0}).Reload()
    return [e.value for e in acc.Scalars("train/loss_iter")]


def conv_comparison(results: dict, run: RunDir, data_label: str) -> dict:
    """Custom vs torch conv: table of speed/memory/accuracy and overlaid loss curves."""
    rows, metrics = [], {}
    for name in ("simplenet", "simplenet_customconv"):
        m = results[name]["metrics"]
        rows.append({"model": name, "epochs": m["epochs"], "s/iter": m["seconds_per_iter"],
                     "saved MB/iter": m["saved_activation_MB"], "val top-1": m["val_acc1"],
                     "final train loss": m["train_loss"]})
        metrics.update({f"{name}_seconds_per_iter": m["seconds_per_iter"],
                        f"{name}_saved_activation_MB": m["saved_activation_MB"]})
    caption = f"Same seed and data; seconds per training iteration and bytes saved for backward; data: {data_label}."
    plot_table(rows, list(rows[0]), run.figure_path("conv_comparison_table"), title="unfold conv vs nn.Conv2d",
               caption=caption)
    curves = {name: iteration_losses(results[name]["run"]) for name in ("simplenet", "simplenet_customconv")}
    common = min(len(c) for c in curves.values())  # the custom-conv run covers SimpleNet's first epochs
    curves = {name: c[:common] for name, c in curves.items()}
    plot_overlaid_curves(curves, run.figure_path("conv_loss_curves"), title="training loss: custom vs torch conv",
                         xlabel="iteration", ylabel="cross-entropy (running mean within the epoch)",
                         caption=f"Engine's train/loss_iter: identical initialisation and batches, so the curves "
                                 f"differ only by float rounding; "
                                 f"data: {data_label}.")
    atomic_write_text(run.path / "conv_comparison.md", markdown_table(rows, list(rows[0])))
    return metrics


def summary(results: dict, run: RunDir, data_label: str) -> dict:
    rows, metrics = [], {"data": data_label}
    for name, r in results.items():
        m = r["metrics"]
        row = {"model": name, "params": m["params"], "epochs": m["epochs"], "val top-1": m["val_acc1"],
               "flip top-1": m["flip_val_acc1"], "clean top-1 (attack)": m["attack_clean_acc1"],
               "PGD top-1": m["attack_acc1"], "PGD top-5": m["attack_acc5"]}
        rows.append(row)
        metrics.update({f"{name}_val_acc1": m["val_acc1"], f"{name}_flip_val_acc1": m["flip_val_acc1"],
                        f"{name}_attack_clean_acc1": m["attack_clean_acc1"], f"{name}_attack_acc1": m["attack_acc1"]})
    plot_table(rows, list(rows[0]), run.figure_path("results_table"), title="toy MiniPlaces: accuracy and PGD",
               caption=f"Top-1/top-5 in %, chance 10%; default PGD (10 steps of 0.01, eps 0.1); data: {data_label}.")
    curves = {name: [h["val_acc1"] for h in _history(r["run"])] for name, r in results.items()}
    plot_overlaid_curves(curves, run.figure_path("val_top1_curves"), title="validation top-1 per epoch",
                         xlabel="epoch", ylabel="top-1 accuracy (%)", caption=f"Chance is 10%; data: {data_label}.")
    atomic_write_text(run.path / "results.md", markdown_table(rows, list(rows[0])))
    return metrics


def _history(run_dir: pathlib.Path) -> list[dict]:
    import torch

    ckpt = torch.load(run_dir / "models" / "checkpoint.pth.tar", map_location="cpu", weights_only=True)
    return ckpt["history"]


def run_demo(out_root: pathlib.Path, quick: bool = False, device: str = "auto") -> list[pathlib.Path]:
    """Run the whole stage under ``out_root``; returns the run directories written."""
    out_root = pathlib.Path(out_root) / "miniplaces"  # the repo demo shares out_root between stages
    data = toy_dataset(out_root, quick)
    data_label = mp_main.data_label(data)
    results, dirs = {}, []
    for name in (QUICK_MODELS if quick else MODELS):
        run_dir, attack_dir, metrics = train_and_attack(name, data, out_root, quick, device)
        results[name] = {"run": run_dir, "metrics": metrics}
        dirs += [run_dir, attack_dir]
    if not quick:
        run_dir, attack_dir, metrics = adversarial_training(data, out_root, device)
        results["simplenet_advtrain"] = {"run": run_dir, "metrics": metrics}
        dirs += [run_dir, attack_dir]
    run = RunDir(out_root / "summary")
    metrics = {**summary(results, run, data_label), **conv_comparison(results, run, data_label)}
    run.write_metrics(metrics)
    run.close()
    return dirs + [run.path]


@cli_main
def main(argv=None) -> list[pathlib.Path]:
    args = build_parser().parse_args(argv)
    dirs = run_demo(args.out, args.quick, args.device)
    print("wrote:\n  " + "\n  ".join(str(d) for d in dirs))
    return dirs


if __name__ == "__main__":
    main()
