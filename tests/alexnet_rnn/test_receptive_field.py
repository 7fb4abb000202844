"""Receptive fields: the layer-table arithmetic must equal two independent measurements, pools included."""
import json

import pytest
import torch

from alexnet_rnn.receptive_field import (CONVENTIONS, HANDOUT_NAMES, Layer, centre_field, centre_index, main,
                                         measure_by_gradient, measure_by_impulse, measuring_model,
                                         receptive_field_table, unit_span)

KEYS = ("Height1", "Height2", "Width1", "Width2")


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_table_equals_gradient_and_impulse_for_every_layer(convention):
    for row in receptive_field_table():
        field = centre_field(row, convention)
        unit = (field["unit"], field["unit"])
        expected = {k: field[k] for k in KEYS}
        assert measure_by_gradient(upto=row.layer.name, unit=unit)[0] == expected, row.layer.name
        assert measure_by_impulse(upto=row.layer.name, unit=unit) == expected, row.layer.name


def test_handout_layers_1_to_4():
    """The diagram's Layers 1-4 are conv1, pool1, conv2, pool2; centre n // 2; 1-based input pixels."""
    rows = {r.layer.name: r for r in receptive_field_table()}
    assert list(HANDOUT_NAMES) == ["conv1", "pool1", "conv2", "pool2"]
    answers = {name: centre_field(rows[name], "handout") for name in HANDOUT_NAMES}
    assert [a["unit"] for a in answers.values()] == [27, 13, 13, 6]
    assert [(a["Height1"], a["Height2"]) for a in answers.values()] == [(105, 115), (97, 115), (81, 131), (65, 131)]
    assert all(a["Width1"] == a["Height1"] and a["Width2"] == a["Height2"] for a in answers.values())


def test_max_pool_gradient_sees_only_part_of_the_field():
    """Why the gradient check uses average pools: a max pool routes gradient to one pixel per window."""
    x = torch.rand(1, 1, 227, 227, generator=torch.Generator().manual_seed(0), requires_grad=True)
    out = measuring_model(upto="pool2", pool="max")(x)
    (grad,) = torch.autograd.grad(out[0, 0, 5, 5], x)
    _, full = measure_by_gradient(upto="pool2", unit=(6, 6))
    support = grad[0, 0] != 0
    assert bool((support & ~full).any()) is False and support.sum() < full.sum() / 2  # measured: 1448 of 4489 pixels


def test_known_alexnet_numbers():
    rows = {r.layer.name: r for r in receptive_field_table()}
    assert [r.out_size for r in rows.values()] == [55, 27, 27, 13, 13, 13]
    assert [r.size for r in rows.values()] == [11, 19, 51, 67, 99, 131]
    assert [r.jump for r in rows.values()] == [4, 8, 8, 16, 16, 16]
    assert unit_span(rows["conv1"], 28) == (109, 119)  # the exact middle: symmetric around pixel 114
    assert unit_span(rows["conv4"], 7) == (49, 179)


def test_centre_conventions():
    assert [centre_index(n, "handout") for n in (55, 27, 13)] == [27, 13, 6]
    assert [centre_index(n, "exact") for n in (55, 27, 13)] == [28, 14, 7]
    with pytest.raises(ValueError):
        centre_index(55, "middle")


def test_corner_unit_is_clipped_like_the_measurements():
    conv4 = receptive_field_table()[-1]
    assert unit_span(conv4, 1, clip=False)[0] < 1  # padding reaches outside the image
    expected = {"Height1": unit_span(conv4, 1)[0], "Height2": unit_span(conv4, 1)[1],
                "Width1": unit_span(conv4, 13)[0], "Width2": unit_span(conv4, 13)[1]}
    assert measure_by_gradient(upto="conv4", unit=(1, 13))[0] == expected
    assert measure_by_impulse(upto="conv4", unit=(1, 13)) == expected


def test_generic_stack_with_even_kernels_and_padding():
    layers = (Layer("c1", "conv", 4, 2, 1), Layer("p1", "pool", 2, 2, 0), Layer("c2", "conv", 3, 1, 1),
              Layer("c3", "conv", 5, 3, 2))
    table = receptive_field_table(layers, input_size=64)
    for row in table:
        for unit in (1, (row.out_size + 1) // 2, row.out_size):
            span = unit_span(row, unit, input_size=64)
            measured, _ = measure_by_gradient(layers, upto=row.layer.name, unit=(unit, unit), input_size=64)
            impulse = measure_by_impulse(layers, upto=row.layer.name, unit=(unit, unit), input_size=64)
            assert (measured["Height1"], measured["Height2"]) == span == (impulse["Width1"], impulse["Width2"])


def test_cli_prints_layer_lines_and_writes_agreeing_metrics(tmp_path, capsys):
    main(["--logdir", str(tmp_path / "run"), "--quiet"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Layer ")]
    assert [line.split(" =")[0] for line in lines] == ["Layer 1", "Layer 2", "Layer 3", "Layer 4"]
    assert "Height 1 = 97, Height 2 = 115, Width 1 = 97, Width 2 = 115" in lines[1] and "agree" in lines[1]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    checks = [v for k, v in metrics.items() if k.endswith("_checks_agree")]
    assert len(checks) == 6 and all(checks)
    assert metrics["handout_layer4_Height1"] == 65 and metrics["handout_conv4_Height2"] == 163
    assert "data" in metrics
    assert len(list((tmp_path / "run" / "figures").glob("*.png"))) == 2
