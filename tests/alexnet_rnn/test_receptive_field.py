"""Receptive fields: the layer-table arithmetic must equal an independent gradient measurement."""
import json

import pytest

from alexnet_rnn.receptive_field import (CONVENTIONS, Layer, centre_field, centre_index,
                                         main, measure_by_gradient, receptive_field_table, unit_span)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_table_equals_gradient_for_every_layer(convention):
    for row in receptive_field_table():
        field = centre_field(row, convention)
        measured, _ = measure_by_gradient(upto=row.layer.name, unit=(field["unit"], field["unit"]))
        assert measured == {k: field[k] for k in ("Height1", "Height2", "Width1", "Width2")}, row.layer.name


def test_known_alexnet_numbers():
    rows = {r.layer.name: r for r in receptive_field_table()}
    assert [r.out_size for r in rows.values()] == [55, 27, 27, 13, 13, 13]
    assert [r.size for r in rows.values()] == [11, 19, 51, 67, 99, 131]
    assert [r.jump for r in rows.values()] == [4, 8, 8, 16, 16, 16]
    assert centre_field(rows["conv1"], "handout")["unit"] == 27
    assert unit_span(rows["conv1"], 27) == (105, 115)
    assert unit_span(rows["conv1"], 28) == (109, 119)  # the exact middle: symmetric around pixel 114
    assert unit_span(rows["conv4"], 7) == (49, 179)
    assert unit_span(rows["conv4"], 6) == (33, 163)


def test_centre_conventions():
    assert [centre_index(n, "handout") for n in (55, 27, 13)] == [27, 13, 6]
    assert [centre_index(n, "exact") for n in (55, 27, 13)] == [28, 14, 7]
    with pytest.raises(ValueError):
        centre_index(55, "middle")


def test_corner_unit_is_clipped_like_the_gradient():
    conv4 = receptive_field_table()[-1]
    assert unit_span(conv4, 1, clip=False)[0] < 1  # padding reaches outside the image
    measured, _ = measure_by_gradient(upto="conv4", unit=(1, 13))
    assert (measured["Height1"], measured["Height2"]) == unit_span(conv4, 1)
    assert (measured["Width1"], measured["Width2"]) == unit_span(conv4, 13)


def test_generic_stack_with_even_kernels_and_padding():
    layers = (Layer("c1", "conv", 4, 2, 1), Layer("p1", "pool", 2, 2, 0), Layer("c2", "conv", 3, 1, 1),
              Layer("c3", "conv", 5, 3, 2))
    table = receptive_field_table(layers, input_size=64)
    for row in table:
        for unit in (1, (row.out_size + 1) // 2, row.out_size):
            measured, _ = measure_by_gradient(layers, upto=row.layer.name, unit=(unit, unit), input_size=64)
            assert (measured["Height1"], measured["Height2"]) == unit_span(row, unit, input_size=64), (row, unit)


def test_cli_writes_agreeing_metrics_and_figures(tmp_path):
    main(["--logdir", str(tmp_path / "run"), "--quiet"])
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    checks = [v for k, v in metrics.items() if k.endswith("_gradient_agrees")]
    assert len(checks) == 8 and all(checks)
    assert metrics["handout_conv1_Height1"] == 105 and metrics["exact_conv1_Height1"] == 109
    assert "data" in metrics
    assert len(list((tmp_path / "run" / "figures").glob("*.png"))) == 4
