"""Targeted L1 adversarial examples for AlexNet: minimise alpha * ||r||_1 + CE(f(x + r), y_target) with Adam.

    python -m alexnet_rnn.adversarial                            # grace_hopper + china, 3 targets each
    python -m alexnet_rnn.adversarial a.jpg b.jpg --targets goldfish pizza 404 --alpha 1e-3
    python -m alexnet_rnn.adversarial --weights random           # offline: untrained weights, labelled

The perturbation lives in [0, 1] pixel space (the model wrapper normalises), and after
every Adam step it is projected so that ``x + r`` stays in [0, 1]: the adversarial
example is always a valid image.  Success is judged on the 8-bit image (``x + r``
rounded to multiples of 1/255), which is exactly what the saved PNG holds; each example
stops at the first step whose 8-bit image is predicted as the target (or at
``--max-steps``).  Every example is saved under ``examples/`` as a 224x224 PNG and a
float tensor (``.pt``), next to its original, and reloaded from the PNG to confirm the
class; ``python -m alexnet_rnn.predict RUN/examples/*.png`` shows them with the
prediction tool.

All examples run as one batch.  In exact arithmetic they are independent (eval mode: no
batch statistics or dropout; the loss is a sum of per-example terms; Adam is
element-wise), but batched kernels sum in a different order than single-image ones, and
Adam's normalised steps amplify those rounding differences (float32): ``batched_vs_single``
measures how far the 8-bit examples drift from their single-image runs (ANSWERS.md, Q1(c),
quotes the committed measurement).
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from common.cli import add_engine_args, positive_float, positive_int, run_main
from common.errors import UserError, cli_main


DEFAULT_TARGETS = ("goldfish", "pizza", "airliner")
FALLBACK_TARGETS = ("tree frog", "volcano", "broccoli")  # used when a default equals an image's own class


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("images", nargs="*", help="images to attack (default: grace_hopper.jpg and china.jpg)")
    parser.add_argument("--targets", nargs="+", default=list(DEFAULT_TARGETS),
                        help="target classes (ImageNet names or indices); one that equals an image's own "
                             f"class is replaced from {FALLBACK_TARGETS}")
    parser.add_argument("--alpha", default="auto",
                        help="weight of the L1 norm of r: a number, or auto = --alpha-scale x the image's mean "
                             "|dCE/dx| at r=0 (adapts to the model's gradient scale)")
    parser.add_argument("--alpha-scale", type=positive_float, default=1.0, help="multiplier for --alpha auto")
    parser.add_argument("--lr", type=positive_float, default=0.01, help="Adam learning rate (pixel units)")
    parser.add_argument("--max-steps", type=positive_int, default=300,
                        help="give up on an example after this many steps")
    parser.add_argument("--weights", default="imagenet", help="imagenet, random or a state_dict path (as predict.py)")
    add_engine_args(parser, training=False)
    return parser


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common.attacks import project  # noqa: E402
from common.device import exact_fp32  # noqa: E402
from common.io import atomic_write  # noqa: E402
from common.modules import eval_mode  # noqa: E402
from common.plotting import markdown_table, plot_table  # noqa: E402

from alexnet_rnn.predict import (label_text, load_classifier, load_image, named_images, predict_probs,  # noqa: E402
                                 prediction_figure, resolve_weights)


def to_8bit(images: torch.Tensor) -> torch.Tensor:
    """Round [0, 1] images to the 256 levels a PNG stores (still float in [0, 1])."""
    return (images * 255).round() / 255


@dataclass
class AttackResult:
    """Per-example outcome; ``steps`` counts Adam updates until success (``max_steps`` if none)."""

    adversarial: torch.Tensor  # (N, 3, H, W) in [0, 1]
    steps: torch.Tensor        # (N,) long
    success: torch.Tensor      # (N,) bool
    alpha: torch.Tensor | None = None  # (N,) the L1 weight each example used (filled in by main)


def auto_alpha(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Per-example alpha = scale * mean |dCE/dx| at r = 0, shape (N,).

    Pixels whose CE gradient is weaker than alpha are pulled back to zero by the L1 term,
    so this keeps only the pixels that matter most, whatever the model's gradient scale
    (a random AlexNet's input gradients are ~100x smaller than a trained one's).
    """
    x = images.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), targets, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return scale * grad.abs().flatten(1).mean(dim=1)


def targeted_l1_attack(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, *,
                       alpha: float | torch.Tensor, lr: float = 0.01, max_steps: int = 300) -> AttackResult:
    """Adam on r for ``sum_i alpha_i * ||r_i||_1 + CE(f(x_i + r_i), t_i)``; x + r projected into [0, 1].

    ``alpha`` is a float or a per-example tensor (N,).  ``adversarial`` holds 8-bit images (PNG-exact).
    """
    with eval_mode(model):
        alpha = torch.as_tensor(alpha, dtype=images.dtype, device=images.device)
        delta = torch.zeros_like(images, requires_grad=True)
        optimizer = torch.optim.Adam([delta], lr=lr)
        adversarial = images.detach().clone()
        steps = torch.full((len(images),), max_steps, dtype=torch.long, device=images.device)
        done = torch.zeros(len(images), dtype=torch.bool, device=images.device)
        for step in range(max_steps + 1):
            logits = model(images + delta)
            with torch.no_grad():  # success = the 8-bit image after `step` updates is predicted as the target
                candidate = to_8bit(images + delta)
                newly = (model(candidate).argmax(dim=1) == targets) & ~done
                adversarial[newly] = candidate[newly]
                steps[newly] = step
            done |= newly
            # One host sync per step is the price of "stop as soon as the target is reached".
            if step == max_steps or bool(done.all()):
                break
            l1 = delta.abs().flatten(1).sum(dim=1)  # (N,)
            loss = (alpha * l1 + F.cross_entropy(logits, targets, reduction="none")).sum()
            # autograd.grad, not backward(): the model's own .grad must stay untouched.
            (delta.grad,) = torch.autograd.grad(loss, delta)
            optimizer.step()
            with torch.no_grad():  # in place, so Adam keeps updating this very tensor
                delta.copy_(project(images + delta, images, None, 0.0, 1.0) - images)
        with torch.no_grad():  # examples that never reached the target report their last iterate
            adversarial[~done] = to_8bit(images + delta)[~done]
    return AttackResult(adversarial, steps, done)


@exact_fp32()  # a comparison of two kernels: full float32, not cuDNN's TF32 (common/device.py)
def batched_vs_single(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, alpha: torch.Tensor,
                      **kwargs) -> list[dict]:
    """Attack as one batch and one example at a time: steps of both and the largest pixel difference."""
    batch = targeted_l1_attack(model, images, targets, alpha=alpha, **kwargs)
    out = []
    for i in range(len(images)):
        alone = targeted_l1_attack(model, images[i:i + 1], targets[i:i + 1], alpha=alpha[i:i + 1], **kwargs)
        out.append({"steps_batched": int(batch.steps[i]), "steps_alone": int(alone.steps[0]),
                    "max_abs_diff": float((batch.adversarial[i] - alone.adversarial[0]).abs().max())})
    return out


def perturbation_stats(original: torch.Tensor, adversarial: torch.Tensor) -> dict[str, float]:
    """L1 (sum), L-infinity and PSNR (dB, peak 1) of one image's perturbation in [0, 1] pixel units."""
    r = (adversarial - original).double()
    mse = float(r.pow(2).mean())
    return {"l1": float(r.abs().sum()), "l1_per_pixel": float(r.abs().mean()), "linf": float(r.abs().max()),
            "psnr_db": math.inf if mse == 0 else 10 * math.log10(1.0 / mse)}


def amplified(perturbation: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Map r to 0.5 + gain * r in [0, 1] (grey = unchanged) so a faint perturbation is visible."""
    peak = float(perturbation.abs().max())
    gain = 0.5 / peak if peak > 0 else 1.0
    return (0.5 + gain * perturbation).clamp(0, 1), gain


def resolve_targets(specs: list[str], categories: list[str]) -> list[int]:
    """ImageNet class indices from names (case-insensitive) or integers; unknown -> UserError."""
    lookup = {name.lower(): i for i, name in enumerate(categories)}
    out = []
    for spec in specs:
        if spec.isdigit() and int(spec) < len(categories):
            out.append(int(spec))
        elif spec.lower() in lookup:
            out.append(lookup[spec.lower()])
        else:
            raise UserError(f"unknown target class {spec!r}: give an ImageNet class name (e.g. 'goldfish') "
                            f"or an index 0-{len(categories) - 1}")
    return out


def targets_for(clean_class: int, wanted: list[int], fallback: list[int]) -> list[int]:
    """The wanted targets, replacing any equal to the image's own predicted class."""
    spare = [c for c in fallback if c != clean_class and c not in wanted]
    return [c if c != clean_class else spare.pop(0) for c in wanted]


def slug(text: str) -> str:
    return text.replace(" ", "_").replace("/", "_").replace("'", "")


def save_example(folder: Path, stem: str, image: torch.Tensor) -> Path:
    """``stem``.png (8-bit, full 224x224 resolution) and ``stem``.pt (the float tensor (3, H, W)) in ``folder``."""
    from PIL import Image

    pixels = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()  # (H, W, 3) uint8
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / f"{stem}.pt", lambda tmp: torch.save(image.detach().cpu().clone(), tmp))
    return atomic_write(folder / f"{stem}.png", lambda tmp: Image.fromarray(pixels).save(tmp, format="PNG"))


def _example_figure(figure: Path, clf, name, target, x, adv, steps, success, probs_clean, probs_adv) -> Path:
    amp, gain = amplified(adv - x)
    status = f"reached in {steps} steps" if success else f"NOT reached in {steps} steps"
    titles = [f"original: {label_text(clf.categories, probs_clean)}",
              f"adversarial: {label_text(clf.categories, probs_adv)}",
              f"perturbation x{gain:.0f} (grey = 0)"]
    return prediction_figure(torch.stack([x, adv, amp]), titles, figure, weights_label=clf.weights_label, ncols=3,
                             title=f"{name} -> target '{clf.categories[target]}' ({status})",
                             caption="Left: x; middle: x + r; right: r amplified.")


def comparison_figure(clf, pngs: dict[str, list[Path]], figure: Path, *, data: str) -> Path:
    """The saved files read back and shown with the prediction tool of Q1(b): per image one row,
    the original then its adversarial examples, each titled with the class AlexNet gives it."""
    images, titles = [], []
    ncols = max(len(paths) for paths in pngs.values())
    for name, paths in pngs.items():
        row = torch.stack([load_image(p) for p in paths])  # (k, 3, 224, 224), exactly what the PNGs hold
        probs = predict_probs(clf.model, row.to(next(clf.model.parameters()).device)).cpu()
        for k, (path, p) in enumerate(zip(paths, probs)):
            kind = f"{name} original" if k == 0 else "target " + Path(path).stem.split("_to_")[-1].replace("_", " ")
            titles.append(f"{kind} -> {label_text(clf.categories, p)}")
        images += list(row) + [torch.ones_like(row[0])] * (ncols - len(paths))  # white cells pad short rows
        titles += [""] * (ncols - len(paths))
    return prediction_figure(torch.stack(images), titles, figure, weights_label=clf.weights_label, ncols=ncols,
                             title="Originals and adversarial examples (saved PNGs)",
                             caption=f"Row = one photo: original, then one example per target; after the arrow: "
                                     f"AlexNet's top-1 class (confidence) of the saved 8-bit image; data: {data}.")


def parse_alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"--alpha must be a non-negative number or 'auto', not {text!r}") from None
    if not value >= 0:
        raise UserError(f"--alpha must be a non-negative number or 'auto', not {text!r}")
    return value


@dataclass
class Attacks:
    """Every (image, target) example of one run: inputs, outcome and AlexNet's probabilities before and after."""

    pairs: list[tuple[int, int]]  # (index of the image, target class)
    x: torch.Tensor               # (K, 3, H, W) the attacked images, one per pair (CPU)
    result: AttackResult
    probs_clean: torch.Tensor     # (K, classes)
    probs_adv: torch.Tensor       # (K, classes)
    clean: list[int]              # each image's own predicted class


def attack_images(clf, images: torch.Tensor, targets: list[str], *, alpha: str | float = "auto",
                  alpha_scale: float = 1.0, lr: float = 0.01, max_steps: int = 300) -> Attacks:
    """Attack every image towards every target (a target equal to its own class is replaced), as one batch."""
    device = next(clf.model.parameters()).device
    wanted = resolve_targets(list(targets), clf.categories)
    fallback = resolve_targets(list(FALLBACK_TARGETS), clf.categories)
    images = images.to(device)
    clean = predict_probs(clf.model, images).argmax(dim=1).tolist()
    pairs = [(i, t) for i, c in enumerate(clean) for t in targets_for(c, wanted, fallback)]
    x = images[[i for i, _ in pairs]]  # (M * targets, 3, 224, 224)
    t = torch.tensor([t for _, t in pairs], device=device)
    alpha = auto_alpha(clf.model, x, t, alpha_scale) if alpha == "auto" else parse_alpha(str(alpha))
    result = targeted_l1_attack(clf.model, x, t, alpha=alpha, lr=lr, max_steps=max_steps)
    result.alpha = torch.as_tensor(alpha).expand(len(pairs)).cpu()
    probs_clean, probs_adv = predict_probs(clf.model, x).cpu(), predict_probs(clf.model, result.adversarial).cpu()
    return Attacks(pairs, x.cpu(), result, probs_clean, probs_adv, clean)


def report_attacks(attacks: Attacks, clf, names: list[str], folder: Path, figure_path, *, data: str,
                   settings: str) -> dict:
    """Save every example (PNG + .pt) under ``folder``, reload its PNG, draw the figures
    (``figure_path(name)`` gives each path), print the table; return the metrics and rows."""
    rows, pngs = [], {}
    metrics = {"data": data, "weights": clf.weights_label, "pretrained": clf.pretrained, "settings": settings,
               "clean_classes_differ": len(set(attacks.clean)) == len(attacks.clean),
               "clean_classes": {names[i]: clf.categories[c] for i, c in enumerate(attacks.clean)}}
    adv, device = attacks.result.adversarial.cpu(), next(clf.model.parameters()).device
    for k, (i, target) in enumerate(attacks.pairs):
        stats = perturbation_stats(attacks.x[k], adv[k])
        steps, success = int(attacks.result.steps[k]), bool(attacks.result.success[k])
        key = f"{names[i]}_to_{slug(clf.categories[target])}"
        _example_figure(figure_path(f"adv_{key}"), clf, names[i], target, attacks.x[k], adv[k], steps, success,
                        attacks.probs_clean[k], attacks.probs_adv[k])
        if names[i] not in pngs:
            pngs[names[i]] = [save_example(folder, f"{names[i]}_original", attacks.x[k])]
        png = save_example(folder, key, adv[k])
        pngs[names[i]].append(png)
        reloaded = predict_probs(clf.model, load_image(png).unsqueeze(0).to(device))[0].argmax()
        row = {"image": names[i], "clean": clf.categories[attacks.clean[i]], "target": clf.categories[target],
               "alpha": float(attacks.result.alpha[k]), "reached": success, "steps": steps, **stats,
               "png_class": clf.categories[int(reloaded)]}
        rows.append(row)
        metrics.update({f"{key}_{c}": row[c] for c in ("alpha", "reached", "steps", "l1", "linf", "psnr_db",
                                                        "png_class")})
    metrics["saved_pngs_reach_target"] = all(r["png_class"] == r["target"] for r in rows if r["reached"])
    metrics["success_rate"] = sum(r["reached"] for r in rows) / len(rows)
    metrics["mean_psnr_db"] = sum(r["psnr_db"] for r in rows) / len(rows)
    metrics["rows"] = rows
    columns = ["image", "clean", "target", "alpha", "reached", "steps", "l1", "linf", "psnr_db", "png_class"]
    print(f"weights: {clf.weights_label}\n" + markdown_table(rows, columns), end="")
    if not metrics["clean_classes_differ"]:
        print("note: the images share a predicted class under these weights", flush=True)
    plot_table(rows, columns, figure_path("adversarial_summary"), title=f"Targeted L1 attack ({settings})"
               f"\n[{clf.weights_label}]", caption=f"Steps until the target was predicted; L1/L-inf/PSNR in [0,1] "
               f"pixel units; data: {data}.")
    comparison_figure(clf, pngs, figure_path("adversarial_examples"), data=data)
    return metrics


@cli_main
def main(argv=None) -> dict:
    return run_main(argv, build_parser, "alexnet_rnn", _attack, prepare=_inputs)


def _inputs(args) -> tuple:
    """The images and weights, read before any output; a bad --alpha fails here too."""
    named, data = named_images(args.images, default=("grace_hopper", "china"))
    images = torch.stack([load_image(p) for p in named.values()])  # (M, 3, 224, 224)
    resolved = resolve_weights(args.weights)
    if args.alpha != "auto":
        parse_alpha(args.alpha)
    return named, data, images, resolved


def _attack(args, ctx, named: dict, data: str, images: torch.Tensor, resolved) -> dict:
    clf = load_classifier(args.weights, ctx.device, resolved)
    attacks = attack_images(clf, images, args.targets, alpha=args.alpha, alpha_scale=args.alpha_scale, lr=args.lr,
                            max_steps=args.max_steps)
    folder = ctx.run.path / "examples"
    metrics = report_attacks(attacks, clf, list(named), folder, ctx.run.figure_path, data=data,
                             settings=f"alpha {args.alpha}, Adam lr {args.lr:g}")
    metrics["alpha_mode"] = args.alpha
    print(f"examples saved as PNG + .pt in {folder}; show them with: python -m alexnet_rnn.predict "
          f"{folder}/*.png --weights {args.weights}" + (f" --seed {args.seed}" if args.seed else ""))
    ctx.run.write_metrics(metrics)
    return metrics


if __name__ == "__main__":
    main()
