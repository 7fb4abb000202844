"""The generated blocks of autoencoders/ANSWERS.md and README.md, rendered from autoencoders/results/ alone.

``python -m autoencoders.results`` writes the JSON and figures and then these blocks;
``tests/test_results_docs.py`` re-renders them from the committed files and fails on any
difference.  Block names are the ``<!-- results:NAME -->`` markers in the docs.
"""
from __future__ import annotations

from pathlib import Path

from common.results import ResultsDir, table

DATASETS = {"digits": "sklearn digits (not MNIST)", "toy-cifar": "toy scenes (not CIFAR-10)"}
MODE_NAMES = {"selfsup": "selfsup (1.2.1)", "guided": "guided (1.2.2)", "contrastive": "contrastive (1.2.3)"}
STAGE_NAMES = {"selfsup_ae": "1.2.1 autoencoder (val MAE)", "selfsup_clf": "1.2.1 head (val top-1)",
               "guided_joint": "1.2.2 joint model (val top-1)",
               "contrastive_contrastive": "1.2.3 SimCLR (val retrieval top-1)",
               "contrastive_clf": "1.2.3 head (val top-1)"}


def render(results: ResultsDir, here: Path) -> dict[str, str]:
    data = {name: results.read_json(name) for name in DATASETS}
    sweep, codes = results.read_json("latent_sweep"), results.read_json("random_codes")
    fig = lambda name: results.figure_markdown(name, here)  # noqa: E731
    return {
        "answer-map": answer_map(data, sweep, codes),
        "search": search_block(data),
        "quantitative": quantitative_block(data),
        "comparison": comparison_block(data),
        "convergence": convergence_block(data, fig),
        "reconstructions": "\n".join(fig(f"{d}_reconstructions.png") for d in DATASETS),
        "interpolation": "\n".join(fig(f"{d}_interpolation.png") for d in DATASETS),
        "tsne": "\n".join(fig(f"tsne_{d}_{m}.png") for d in DATASETS for m in MODE_NAMES),
        "latent-sweep": latent_block(sweep, fig),
        "random-codes": codes_block(codes, fig),
        "readme-results": readme_block(data),
    }


def pm(stat: dict | None, digits: int = 1) -> str:
    """``mean +- std`` of a seed statistic."""
    return "–" if stat is None else f"{stat['mean']:.{digits}f} +- {stat['std']:.{digits}f}"


def stat(d: dict, mode: str, metric: str) -> dict | None:
    return d["stats"].get(f"{mode}_{metric}")


def verdict(a: dict, b: dict) -> str:
    """How mean a compares with mean b, against their seed spread."""
    gap, spread = a["mean"] - b["mean"], max(a["std"], b["std"])
    if abs(gap) <= spread:
        return f"within one seed std ({gap:+.1f} points)"
    return f"{'higher' if gap > 0 else 'lower'} by {abs(gap):.1f} points (more than one seed std)"


# ------------------------------------------------------------------ answer map
def answer_map(data: dict, sweep: dict, codes: dict) -> str:
    d, t = data["digits"], data["toy-cifar"]
    short = {"selfsup": "1.2.1", "guided": "1.2.2", "contrastive": "1.2.3"}
    accs = "; ".join(f"{short[m]} {stat(d, m, 'test_acc1')['mean']:.1f} / {stat(t, m, 'test_acc1')['mean']:.1f}"
                     for m in MODE_NAMES)
    probes = "; ".join(f"{short[m]} {stat(d, m, 'probe_test_acc1')['mean']:.1f} / "
                       f"{stat(t, m, 'probe_test_acc1')['mean']:.1f}" for m in MODE_NAMES)
    mae = f"{stat(d, 'selfsup', 'test_mae')['mean']:.3f} / {stat(t, 'selfsup', 'test_mae')['mean']:.3f}"
    dims = [k for k in sweep if k.endswith("_selfsup_test_acc1_mean")]
    h = sorted(int(k.split("_")[0][1:]) for k in dims)
    curve = ", ".join(f"{sweep[f'h{x}_selfsup_test_acc1_mean']:.1f}% at h = {x}" for x in (h[0], h[len(h) // 2], h[-1]))
    rows = [
        ["wet 1: reasoning", "3-layer conv encoder / mirrored decoder, one 2-layer MLP head for all encoders; SimCLR "
         "for 1.2.3; LR, batch size and dropout chosen on validation", "[wet 1](#wet-1-reasoning)"],
        ["wet 2: quantitative results", f"test top-1 (%), mean of {len(d['seeds'])} seeds, digits / toy scenes: "
         f"{accs}; linear probe: {probes}; selfsup test MAE {mae} (pixels)", "[wet 2](#wet-2-quantitative-results)"],
        ["wet 3: reconstructions", "5 random test images per dataset over their reconstructions, embedded",
         "[wet 3](#wet-3-reconstructions)"],
        ["wet 4: interpolation", "10 decoded points between two of the 5 images' codes, embedded",
         "[wet 4](#wet-4-linear-interpolation)"],
        ["wet 5: t-SNE", "latent vs pixel t-SNE for all six encoders, embedded", "[wet 5](#wet-5-t-sne)"],
        ["dry 1: accuracy vs h", f"rises steeply, then levels off; measured on digits (1.2.1 head): {curve}",
         "[dry 1](#dry-1-accuracy-against-the-latent-dimension-h)"],
        ["dry 10: AE as generator, VAEs", f"random N(0, I) codes decode to images {codes['n0_i_nearest_train_mae']:.3f}"
         f" (pixel MAE) from the nearest training image, real codes {codes['test_codes_nearest_train_mae']:.3f}; "
         "a VAE's KL term makes N(0, I) the code distribution", "[dry 10](#dry-10-the-autoencoder-as-a-generator-"
         "and-vaes)"],
    ]
    return table(["item", "answer in one line (embedded stand-in data)", "evidence"], rows)


# ------------------------------------------------------------------ wet part
def search_block(data: dict) -> str:
    out = []
    for name, label in DATASETS.items():
        s = data[name]["search"]
        rows = [[r["stage"], MODE_NAMES[r["mode"]], f"{r['lr']:g}", r["batch"], f"{r['dropout']:g}",
                 f"{r['train']:.1f}", f"{r['val']:.1f}"] for r in s["rows"]]
        chosen = s["chosen_lr"]
        stage_a = [r["val"] for r in s["rows"] if r["stage"] == "A"]
        ties = sum(v == max(stage_a) for v in stage_a)
        out.append(f"**{label}** (seed {s['seed']}; chosen: batch {s['chosen_batch']}, dropout "
                   f"{s['chosen_dropout']:g}, LR {chosen['guided']:g} joint / {chosen['selfsup']:g} autoencoder / "
                   f"{chosen['contrastive']:g} SimCLR; {ties} of the {len(stage_a)} stage-A configurations tie at "
                   "the best validation accuracy, and ties go to the first in the table)\n\n"
                   + table(["stage", "mode", "LR", "batch", "dropout", "train top-1", "val top-1"], rows))
    return "\n".join(out)


def quantitative_block(data: dict) -> str:
    rows = []
    for name, label in DATASETS.items():
        d = data[name]
        for mode, mode_name in MODE_NAMES.items():
            rows.append([label, mode_name] + [pm(stat(d, mode, m)) for m in
                                               ("train_acc1", "val_acc1", "test_acc1", "probe_train_acc1",
                                                "probe_val_acc1", "probe_test_acc1")]
                        + [pm(stat(d, mode, "test_mae"), 4) if mode == "selfsup" else ""])
    seeds = ", ".join(map(str, data["digits"]["seeds"]))
    sched = "; ".join(f"{DATASETS[n]}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in d["schedule"].items())
                      for n, d in data.items())
    return (f"Seeds {seeds}; mean +- sample std over the seeds. Schedules: {sched}.\n\n"
            + table(["data", "encoder", "train", "val", "test", "probe train", "probe val", "probe test",
                     "test MAE (pixels)"], rows))


def comparison_block(data: dict) -> str:
    lines = []
    for name, label in DATASETS.items():
        d = data[name]
        head = verdict(stat(d, "contrastive", "test_acc1"), stat(d, "selfsup", "test_acc1"))
        probe = verdict(stat(d, "contrastive", "probe_test_acc1"), stat(d, "selfsup", "probe_test_acc1"))
        guided = verdict(stat(d, "contrastive", "test_acc1"), stat(d, "guided", "test_acc1"))
        retrieval = stat(d, "contrastive", "contrastive_val_acc1")
        lines.append(f"* **{label}**: 1.2.3 vs 1.2.1, head test top-1 {pm(stat(d, 'contrastive', 'test_acc1'))} vs "
                     f"{pm(stat(d, 'selfsup', 'test_acc1'))}: {head}; linear probe "
                     f"{pm(stat(d, 'contrastive', 'probe_test_acc1'))} vs {pm(stat(d, 'selfsup', 'probe_test_acc1'))}"
                     f": {probe}. 1.2.3 vs 1.2.2 (head): {guided}. SimCLR's own validation task (a view's positive "
                     f"is its nearest neighbour among the 2N - 1 others) ends at {pm(retrieval)} % top-1.")
    return "\n".join(lines) + "\n"


def convergence_block(data: dict, fig) -> str:
    rows = []
    for name, label in DATASETS.items():
        for key, stage in STAGE_NAMES.items():
            gains = data[name]["gains"][key]
            unit = "pixels" if key == "selfsup_ae" else "points"
            rows.append([label, stage, " / ".join("–" if g is None else (f"{g:+.4f}" if unit == "pixels" else
                                                                          f"{g:+.2f}") for g in gains), unit])
    return (table(["data", "stage", "last-quarter gain per seed", "unit"], rows) + "\n"
            + "\n".join(fig(f"{d}_convergence.png") for d in DATASETS))


def latent_block(sweep: dict, fig) -> str:
    dims = sorted(int(k.split("_")[0][1:]) for k in sweep if k.endswith("_selfsup_test_acc1_mean"))
    lines = (("selfsup_test_acc1", "1.2.1 autoencoder + MLP head, test acc (%)", 1),
             ("selfsup_probe_test_acc1", "1.2.1 linear probe, test acc (%)", 1),
             ("guided_test_acc1", "1.2.2 jointly trained, test acc (%)", 1),
             ("selfsup_test_mae", "1.2.1 test MAE (pixels)", 4))
    rows = [[label] + [f"{sweep[f'h{h}_{key}_mean']:.{digits}f}" for h in dims] for key, label, digits in lines]
    return table(["h"] + [str(h) for h in dims], rows) + "\n" + fig("latent_sweep.png")


def codes_block(codes: dict, fig) -> str:
    return (f"Training codes have mean norm {codes['train_code_norm']:.1f}, N(0, I) draws "
            f"{codes['n0_i_code_norm']:.1f}. Pixel MAE from each decoded image to its nearest training image: "
            f"real test codes {codes['test_codes_nearest_train_mae']:.3f}, N(0, I) codes "
            f"{codes['n0_i_nearest_train_mae']:.3f}, codes from a per-dimension Gaussian fitted to the training "
            f"codes {codes['gaussian_fit_to_codes_nearest_train_mae']:.3f}.\n\n" + fig("random_codes.png"))


def readme_block(data: dict) -> str:
    rows = []
    for name, label in DATASETS.items():
        d = data[name]
        rows.append([f"{label}: head"] + [pm(stat(d, m, "test_acc1")) for m in MODE_NAMES]
                    + [pm(stat(d, "selfsup", "test_mae"), 4)])
        rows.append([f"{label}: linear probe"] + [pm(stat(d, m, "probe_test_acc1")) for m in MODE_NAMES] + [""])
    return table(["data", "selfsup (1.2.1)", "guided (1.2.2)", "contrastive (1.2.3)", "selfsup test MAE"], rows)
