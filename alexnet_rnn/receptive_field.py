"""Receptive fields of the original AlexNet's conv1-conv4 centre units in the 227x227 input (Q1(a)).

    python -m alexnet_rnn.receptive_field                  # both centre conventions, gradient check
    python -m alexnet_rnn.receptive_field --convention exact

The table is computed from layer definitions with the usual recurrence (all indices
1-based, ``j`` = jump, ``r`` = receptive-field size, ``lo`` = first input pixel seen
by unit 1 of the layer)::

    n_out = floor((n_in + 2p - k) / s) + 1
    j_out = j_in * s            r_out = r_in + (k - 1) * j_in
    lo_out = lo_in - p * j_in   (unit i sees lo_out + (i-1) j_out ... that + r_out - 1)

"start" is the centre of unit 1's field, ``lo + (r - 1) / 2``.  Regions are clipped to
the image (zero padding contributes no pixels).  The result is cross-checked by back-
propagating from the centre unit of a one-channel model with the same layer shapes
(all-ones kernels, average pooling so every window pixel gets gradient) and reading
the non-zero rows/columns of the input gradient.

Centre conventions (a layer of n x n units, 1-based):
* ``handout``: ``n // 2`` -- the handout calls unit 27 the centre of the 55 x 55 conv1
  map; read 1-based that is one unit up-left of the middle (it is the exact middle
  only when counting from 0).  Deeper maps: 27 -> 13, 13 -> 6.
* ``exact``: ``(n + 1) // 2`` -- the geometric middle (28 of 55, 14 of 27, 7 of 13).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from common.cli import add_engine_args, run_context
from common.errors import cli_main


CONVENTIONS = ("handout", "exact")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--convention", choices=[*CONVENTIONS, "both"], default="both",
                        help="which unit counts as the centre: handout (n//2, 27 of 55) or exact ((n+1)//2)")
    parser.add_argument("--no-check", action="store_true", help="skip the gradient cross-check")
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


def measuring_model(layers=ALEXNET_LAYERS, upto: str | None = None) -> nn.Sequential:
    """One-channel network with the layers' shapes: all-ones convs, *average* pools.

    Max pooling would route gradient to one pixel per window and hide most of the
    field; average pooling has the same geometry and reaches every window pixel.
    Ones-kernels on a positive input avoid cancellations, so non-zero = inside.
    """
    modules = []
    for layer in layers:
        if layer.kind == "conv":
            conv = nn.Conv2d(1, 1, layer.kernel, layer.stride, layer.padding, bias=False)
            nn.init.ones_(conv.weight)
            modules.append(conv)
        else:
            modules.append(nn.AvgPool2d(layer.kernel, layer.stride, layer.padding))
        if layer.name == upto:
            break
    return nn.Sequential(*modules)


def measure_by_gradient(layers=ALEXNET_LAYERS, upto: str = "conv1", unit: tuple[int, int] = (27, 27),
                        input_size: int = INPUT_SIZE) -> tuple[dict[str, int], torch.Tensor]:
    """Input-gradient support of unit (row, col) (1-based) of layer ``upto``; also returns the mask."""
    model = measuring_model(layers, upto)
    x = torch.ones(1, 1, input_size, input_size, requires_grad=True)
    out = model(x)  # (1, 1, n, n)
    (grad,) = torch.autograd.grad(out[0, 0, unit[0] - 1, unit[1] - 1], x)
    mask = grad[0, 0] != 0  # (H, W)
    rows = mask.any(dim=1).nonzero().flatten()
    cols = mask.any(dim=0).nonzero().flatten()
    spans = {"Height1": int(rows.min()) + 1, "Height2": int(rows.max()) + 1,
             "Width1": int(cols.min()) + 1, "Width2": int(cols.max()) + 1}
    return spans, mask


def table_rows(convention: str) -> list[dict]:
    """Printable rows (every layer) with the work and the four numbers for ``convention``."""
    out = []
    for row in receptive_field_table():
        field = centre_field(row, convention)
        spec = f"{row.layer.kernel}/{row.layer.stride}/{row.layer.padding}"
        out.append({"layer": row.layer.name, "k/s/p": spec, "out": f"{row.out_size}x{row.out_size}",
                    "jump": row.jump, "size": row.size, "start": f"{row.start:g}", **field})
    return out


def _report(convention: str, check: bool) -> tuple[dict, list[dict], list]:
    """Print one convention's table; return its metrics, rows and the gradient masks."""
    columns = ["layer", "k/s/p", "out", "jump", "size", "start", "unit", "Height1", "Height2", "Width1", "Width2"]
    rows = table_rows(convention)
    print(f"\nreceptive fields in the {INPUT_SIZE}x{INPUT_SIZE} input, centre convention '{convention}' (1-based)")
    print(markdown_table(rows, columns), end="")
    metrics, masks = {}, []
    for row in rows:
        if not row["layer"].startswith("conv"):
            continue
        for key in ("Height1", "Height2", "Width1", "Width2"):
            metrics[f"{convention}_{row['layer']}_{key}"] = row[key]
        if check:
            spans, mask = measure_by_gradient(upto=row["layer"], unit=(row["unit"], row["unit"]))
            agree = all(spans[k] == row[k] for k in spans)
            metrics[f"{convention}_{row['layer']}_gradient_agrees"] = agree
            masks.append((row, mask))
            print(f"  gradient check {row['layer']}: {spans} -> {'agrees' if agree else 'DISAGREES'}")
    return metrics, rows, masks


@cli_main
def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    with run_context(args, "alexnet_rnn") as ctx:
        return _run(args, ctx)


def _run(args, ctx) -> dict:
    conventions = CONVENTIONS if args.convention == "both" else (args.convention,)
    metrics = {"data": "layer arithmetic (original AlexNet, 227x227 input); no data"}
    for convention in conventions:
        conv_metrics, rows, masks = _report(convention, not args.no_check)
        metrics.update(conv_metrics)
        columns = ["layer", "k/s/p", "out", "jump", "size", "start", "unit", "Height1", "Height2"]
        plot_table(rows, columns, ctx.run.figure_path(f"receptive_field_table_{convention}"),
                   title=f"AlexNet receptive fields, centre convention '{convention}'",
                   caption="1-based input pixels of the centre unit (square maps: Width1/2 = Height1/2); "
                           "jump/size/start per layer.")
        if masks:
            plot_image_grid([m.float().numpy() for _, m in masks],
                            [f"{r['layer']} ({r['unit']},{r['unit']}): {r['Height1']}-{r['Height2']}"
                             for r, _ in masks],
                            ctx.run.figure_path(f"receptive_field_gradient_{convention}"), ncols=len(masks),
                            title=f"Input-gradient support of the centre unit ('{convention}')",
                            caption="White = input pixels with non-zero gradient (ones-kernel model, average pools); "
                                    "titles give the table's span.")
    ctx.run.write_metrics(metrics)
    return metrics


if __name__ == "__main__":
    main()
