"""Receptive fields of the handout's Layers 1-4 of the original AlexNet in the 227x227 input (Q1(a)).

    python -m alexnet_rnn.receptive_field                  # handout centre (n // 2), both checks
    python -m alexnet_rnn.receptive_field --convention both

The handout's labelled diagram marks Layer 1 = conv1 output (55x55), Layer 2 = max-pool1
output (27x27), Layer 3 = conv2 output (27x27), Layer 4 = max-pool2 output (13x13);
conv3 and conv4 are printed as extra rows.  The table comes from the layer definitions
with the usual recurrence (all indices 1-based, ``j`` = jump, ``r`` = receptive-field
size, ``lo`` = first input pixel seen by unit 1 of the layer)::

    n_out = floor((n_in + 2p - k) / s) + 1
    j_out = j_in * s            r_out = r_in + (k - 1) * j_in
    lo_out = lo_in - p * j_in   (unit i sees lo_out + (i-1) j_out ... that + r_out - 1)

"start" is the centre of unit 1's field, ``lo + (r - 1) / 2``.  Regions are clipped to
the image (zero padding contributes no pixels).  Two independent measurements check
every row, pools included:

* gradient: back-propagate from the centre unit of a one-channel copy with the same
  layer shapes, all-ones kernels and *average* pools (a max pool sends gradient to one
  pixel per window, so its gradient support is a subset of the field, not the field);
* impulse: the real *max* pools, all-ones kernels, and inputs that are zero except one
  row (or column) of ones; the unit's output is non-zero exactly when that row (column)
  lies inside its field, because every value stays >= 0 and a max of non-negative
  numbers is positive iff one of them is.

Centre conventions (a layer of n x n units, 1-based):
* ``handout``: ``n // 2`` -- "the center spatial location is at 27 (round down)" of 55;
  deeper maps: 27 -> 13, 13 -> 6.  Read 1-based it is one unit up-left of the middle.
* ``exact``: ``(n + 1) // 2`` -- the geometric middle (28 of 55, 14 of 27, 7 of 13).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from common.cli import add_engine_args, run_main
from common.errors import cli_main


CONVENTIONS = ("handout", "exact")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--convention", choices=[*CONVENTIONS, "both"], default="handout",
                        help="which unit counts as the centre: handout (n//2, 27 of 55) or exact ((n+1)//2)")
    parser.add_argument("--no-check", action="store_true", help="skip the gradient and impulse cross-checks")
    add_engine_args(parser, training=False)
    return parser


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from common.plotting import markdown_table, plot_image_grid, plot_table  # noqa: E402

INPUT_SIZE = 227


@dataclass(frozen=True)
class Layer:
    """One spatial layer: ``kind`` is "conv" or "pool" (square kernel/stride/padding)."""

    name: str
    kind: str
    kernel: int
    stride: int
    padding: int = 0


# The original (Krizhevsky et al. 2012) AlexNet on 227 x 227 inputs, up to conv4.
ALEXNET_LAYERS = (
    Layer("conv1", "conv", 11, 4, 0),   # 227 -> 55
    Layer("pool1", "pool", 3, 2, 0),    # 55 -> 27
    Layer("conv2", "conv", 5, 1, 2),    # 27 -> 27
    Layer("pool2", "pool", 3, 2, 0),    # 27 -> 13
    Layer("conv3", "conv", 3, 1, 1),    # 13 -> 13
    Layer("conv4", "conv", 3, 1, 1),    # 13 -> 13
)
# The handout's diagram labels (the outputs of these layers); conv3/conv4 are extra context.
HANDOUT_NAMES = {"conv1": "Layer 1", "pool1": "Layer 2", "conv2": "Layer 3", "pool2": "Layer 4"}


@dataclass(frozen=True)
class FieldRow:
    """Receptive-field bookkeeping after one layer (input-pixel units, 1-based)."""

    layer: Layer
    out_size: int
    jump: int
    size: int
    first: int  # first input pixel seen by unit 1 (may be < 1 because of padding)

    @property
    def start(self) -> float:
        """Centre of unit 1's field (the classic "start" of the jump/size/start recurrence)."""
        return self.first + (self.size - 1) / 2


def receptive_field_table(layers=ALEXNET_LAYERS, input_size: int = INPUT_SIZE) -> list[FieldRow]:
    """Apply the recurrence layer by layer; raises ValueError if a layer has no output."""
    rows, n, jump, size, first = [], input_size, 1, 1, 1
    for layer in layers:
        n = (n + 2 * layer.padding - layer.kernel) // layer.stride + 1
        if n < 1:
            raise ValueError(f"{layer.name}: input too small for kernel {layer.kernel}")
        first -= layer.padding * jump   # padding shifts unit 1 left by p input-units of the previous layer
        size += (layer.kernel - 1) * jump
        jump *= layer.stride
        rows.append(FieldRow(layer, n, jump, size, first))
    return rows


def centre_index(n: int, convention: str) -> int:
    """1-based index of the "centre" unit of an n-unit axis (see the module docstring)."""
    if convention == "handout":
        return n // 2
    if convention == "exact":
        return (n + 1) // 2
    raise ValueError(f"unknown centre convention {convention!r}; choose from {CONVENTIONS}")


def unit_span(row: FieldRow, index: int, input_size: int = INPUT_SIZE, clip: bool = True) -> tuple[int, int]:
    """First and last input pixel (1-based, inclusive) seen by unit ``index`` along one axis."""
    lo = row.first + (index - 1) * row.jump
    hi = lo + row.size - 1
    return (max(lo, 1), min(hi, input_size)) if clip else (lo, hi)


def centre_field(row: FieldRow, convention: str, input_size: int = INPUT_SIZE) -> dict[str, int]:
    """Height1, Height2, Width1, Width2 (1-based, clipped) of the centre unit (square maps)."""
    idx = centre_index(row.out_size, convention)
    h1, h2 = unit_span(row, idx, input_size)
    return {"unit": idx, "Height1": h1, "Height2": h2, "Width1": h1, "Width2": h2}


def measuring_model(layers=ALEXNET_LAYERS, upto: str | None = None, pool: str = "avg") -> nn.Sequential:
    """One-channel network with the layers' shapes: all-ones convs, ``pool`` = "avg" or "max" pools.

    Ones-kernels on a non-negative input avoid cancellations, so non-zero = inside.
    """
    modules = []
    for layer in layers:
        if layer.kind == "conv":
            conv = nn.Conv2d(1, 1, layer.kernel, layer.stride, layer.padding, bias=False)
            nn.init.ones_(conv.weight)
            modules.append(conv)
        else:
            pool_cls = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
            modules.append(pool_cls(layer.kernel, layer.stride, layer.padding))
        if layer.name == upto:
            break
    return nn.Sequential(*modules)


def _spans(rows: torch.Tensor, cols: torch.Tensor) -> dict[str, int]:
    """First/last 1-based index of the True entries of two boolean vectors."""
    rows, cols = rows.nonzero().flatten(), cols.nonzero().flatten()
    return {"Height1": int(rows.min()) + 1, "Height2": int(rows.max()) + 1,
            "Width1": int(cols.min()) + 1, "Width2": int(cols.max()) + 1}


def measure_by_gradient(layers=ALEXNET_LAYERS, upto: str = "conv1", unit: tuple[int, int] = (27, 27),
                        input_size: int = INPUT_SIZE) -> tuple[dict[str, int], torch.Tensor]:
    """Input-gradient support of unit (row, col) (1-based) of layer ``upto``, average pools; also the mask."""
    model = measuring_model(layers, upto, pool="avg")
    x = torch.ones(1, 1, input_size, input_size, requires_grad=True)
    out = model(x)  # (1, 1, n, n)
    (grad,) = torch.autograd.grad(out[0, 0, unit[0] - 1, unit[1] - 1], x)
    mask = grad[0, 0] != 0  # (H, W)
    return _spans(mask.any(dim=1), mask.any(dim=0)), mask


@torch.no_grad()
def measure_by_impulse(layers=ALEXNET_LAYERS, upto: str = "conv1", unit: tuple[int, int] = (27, 27),
                       input_size: int = INPUT_SIZE) -> dict[str, int]:
    """Rows/columns whose line impulse reaches unit (row, col) of ``upto`` through the real max pools."""
    model = measuring_model(layers, upto, pool="max")
    lines = torch.eye(input_size).view(input_size, 1, input_size, 1)  # impulse k: row k of ones
    rows = model(lines.expand(-1, -1, -1, input_size))[:, 0, unit[0] - 1, unit[1] - 1] > 0  # (input_size,)
    cols = model(lines.transpose(2, 3).expand(-1, -1, input_size, -1))[:, 0, unit[0] - 1, unit[1] - 1] > 0
    return _spans(rows, cols)


def table_rows(convention: str) -> list[dict]:
    """Printable rows (every layer) with the handout's layer label and the four numbers for ``convention``."""
    out = []
    for row in receptive_field_table():
        field = centre_field(row, convention)
        spec = f"{row.layer.kernel}/{row.layer.stride}/{row.layer.padding}"
        out.append({"handout": HANDOUT_NAMES.get(row.layer.name, "(extra)"), "layer": row.layer.name,
                    "k/s/p": spec, "out": f"{row.out_size}x{row.out_size}", "jump": row.jump, "size": row.size,
                    "first": row.first, "start": f"{row.start:g}", **field})
    return out


def work_line(row: dict) -> str:
    """The arithmetic behind one row's numbers, e.g. 'lo = 1 + (27 - 1) * 4 = 105, hi = 105 + 11 - 1 = 115'."""
    lo = row["first"] + (row["unit"] - 1) * row["jump"]
    return (f"lo = {row['first']} + ({row['unit']} - 1) * {row['jump']} = {lo}, "
            f"hi = {lo} + {row['size']} - 1 = {lo + row['size'] - 1}")


def report_convention(convention: str, check: bool) -> tuple[dict, list[dict], list]:
    """Print one convention's table and Layer 1-4 answers; return its metrics, rows and the gradient masks."""
    columns = ["handout", "layer", "k/s/p", "out", "jump", "size", "first", "start", "unit",
               "Height1", "Height2", "Width1", "Width2"]
    rows = table_rows(convention)
    print(f"\nreceptive fields in the {INPUT_SIZE}x{INPUT_SIZE} input, centre convention '{convention}' (1-based)")
    print(markdown_table(rows, columns), end="")
    metrics, masks = {}, []
    for row in rows:
        key = row["handout"].replace(" ", "").lower() if row["handout"] != "(extra)" else row["layer"]
        metrics.update({f"{convention}_{key}_{k}": row[k] for k in ("Height1", "Height2", "Width1", "Width2")})
        numbers = ", ".join(f"{k[:-1]} {k[-1]} = {row[k]}" for k in ("Height1", "Height2", "Width1", "Width2"))
        label = f"{row['handout']} = {row['layer']}" if key.startswith("layer") else f"extra: {row['layer']}"
        line = f"{label} ({row['out']}), centre unit ({row['unit']}, {row['unit']}): {numbers}   [{work_line(row)}]"
        if check:
            unit = (row["unit"], row["unit"])
            spans, mask = measure_by_gradient(upto=row["layer"], unit=unit)
            impulse = measure_by_impulse(upto=row["layer"], unit=unit)
            agree = all(spans[k] == row[k] == impulse[k] for k in spans)
            metrics[f"{convention}_{key}_checks_agree"] = agree
            masks.append((row, mask))
            line += f"  gradient and impulse checks: {'agree' if agree else 'DISAGREE'}"
        print(line)
    return metrics, rows, masks


@cli_main
def main(argv=None) -> dict:
    return run_main(argv, build_parser, "alexnet_rnn", _run)


def _run(args, ctx) -> dict:
    conventions = CONVENTIONS if args.convention == "both" else (args.convention,)
    metrics = {"data": "layer arithmetic (original AlexNet, 227x227 input); no data"}
    for convention in conventions:
        conv_metrics, rows, masks = report_convention(convention, not args.no_check)
        metrics.update(conv_metrics)
        columns = ["handout", "layer", "k/s/p", "out", "jump", "size", "unit", "Height1", "Height2"]
        plot_table(rows, columns, ctx.run.figure_path(f"receptive_field_table_{convention}"),
                   title=f"AlexNet receptive fields, centre convention '{convention}'",
                   caption="1-based input pixels of the centre unit (square maps: Width1/2 = Height1/2); "
                           "jump/size per layer.")
        if masks:
            plot_image_grid([m.float().numpy() for _, m in masks],
                            [f"{r['handout'].replace('(extra)', '')} {r['layer']}: {r['Height1']}-{r['Height2']}"
                             for r, _ in masks],
                            ctx.run.figure_path(f"receptive_field_gradient_{convention}"), ncols=3,
                            title=f"Input pixels seen by the centre unit ('{convention}')",
                            caption="White = non-zero input gradient (ones-kernel copy, average pools); "
                                    "titles give the table's span.")
    ctx.run.write_metrics(metrics)
    return metrics


if __name__ == "__main__":
    main()
