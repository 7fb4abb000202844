"""SIREN decoding vs an independent implementation; safe .pkl loading and validation."""
import pickle

import joblib
import numpy as np
import pytest
import torch

from common.errors import UserError
from functaset.SIREN import ModulatedSIREN, load_siren
from functaset.utils import get_fmnist_functa, load_split, vec_to_img, write_split
from functaset.safe_pickle import safe_load


def reference_decode(sd: dict, vec: torch.Tensor, depth: int, hidden: int, w0: float = 30.0, size: int = 28):
    """The architecture written out with plain tensor ops from the course key names."""
    coords = [[float(r), float(c)] for r in range(size) for c in range(size)]
    h = torch.tensor(coords, dtype=torch.float64)  # (P, 2)
    shifts = (vec.double() @ sd["modul.weight"].double().T + sd["modul.bias"].double())  # (depth*hidden,)
    for i in range(depth):
        w, b = sd[f"siren.net.{i}.affine.weight"].double(), sd[f"siren.net.{i}.affine.bias"].double()
        h = torch.sin(w0 * (h @ w.T + b + shifts[i * hidden:(i + 1) * hidden]))
    out = h @ sd["siren.hidden2rgb.weight"].double().T + sd["siren.hidden2rgb.bias"].double()
    return out.view(size, size)


def random_state_dict(depth=3, hidden=32, modul=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for i in range(depth):
        fan_in = 2 if i == 0 else hidden
        sd[f"siren.net.{i}.affine.weight"] = torch.randn(hidden, fan_in, generator=g) / (fan_in * 30)
        sd[f"siren.net.{i}.affine.bias"] = torch.randn(hidden, generator=g) * 0.01
    sd["siren.hidden2rgb.weight"] = torch.randn(1, hidden, generator=g) * 0.1
    sd["siren.hidden2rgb.bias"] = torch.randn(1, generator=g) * 0.1
    sd["modul.weight"] = torch.randn(hidden * depth, modul, generator=g) * 0.05
    sd["modul.bias"] = torch.randn(hidden * depth, generator=g) * 0.01
    return sd


def test_course_key_names_and_sizes():
    inr = ModulatedSIREN()
    keys = set(inr.state_dict())
    expected = {f"siren.net.{i}.affine.{p}" for i in range(10) for p in ("weight", "bias")}
    expected |= {"siren.hidden2rgb.weight", "siren.hidden2rgb.bias", "modul.weight", "modul.bias"}
    assert keys == expected
    assert inr.modul.weight.shape == (2560, 512)
    assert inr.siren.net[0].affine.weight.abs().max() <= 0.5
    assert inr.siren.net[1].affine.weight.abs().max() <= (6 / 256) ** 0.5 / 30 + 1e-7


def test_decode_matches_independent_implementation_single_and_batched():
    sd = random_state_dict()
    inr = ModulatedSIREN(hidden=32, depth=3, modul_features=16)
    inr.load_state_dict(sd)
    vecs = torch.randn(5, 16, generator=torch.Generator().manual_seed(1))
    batched = inr(vecs)
    assert batched.shape == (5, 28, 28)
    for i in range(5):
        ref = reference_decode(sd, vecs[i], depth=3, hidden=32)
        torch.testing.assert_close(batched[i].double(), ref, atol=2e-5, rtol=1e-4)
        torch.testing.assert_close(inr(vecs[i]), batched[i], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(vec_to_img(inr, vecs), batched.detach())
    assert vec_to_img(inr, vecs[0]).shape == (28, 28)


def test_course_checkpoint_format_loads_unchanged(tmp_path):
    inr = ModulatedSIREN(hidden=32, depth=3, modul_features=16)
    torch.save({"epoch": 3, "state_dict": inr.state_dict(), "loss": 0.1}, tmp_path / "modSiren.pth")
    loaded = load_siren(tmp_path / "modSiren.pth")  # sizes inferred from the weights
    vec = torch.randn(2, 16)
    torch.testing.assert_close(loaded(vec), inr(vec))


def _items(n=12, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    return [{"modul": rng.standard_normal(dim).astype(np.float32), "label": int(i % 10)} for i in range(n)]


@pytest.mark.parametrize("writer", ["joblib", "pickle", "write_split"])
def test_pkl_round_trip(tmp_path, writer):
    items = _items()
    path = tmp_path / "fmnist_train.pkl"
    if writer == "joblib":
        joblib.dump(items, path)
    elif writer == "pickle":
        with open(path, "wb") as fh:
            pickle.dump(items, fh)
    else:
        write_split(path, np.stack([i["modul"] for i in items]), [i["label"] for i in items])
        assert [i["label"] for i in joblib.load(path)] == [i["label"] for i in items]  # the course loader reads it
    vectors, labels = load_split(tmp_path, "train", modul_dim=8)
    np.testing.assert_array_equal(vectors.numpy(), np.stack([i["modul"] for i in items]))
    assert labels.tolist() == [i["label"] for i in items]
    loader = get_fmnist_functa(tmp_path, batch_size=5, mode="train", modul_dim=8)
    xb, yb = next(iter(loader))
    assert xb.shape == (5, 8) and xb.dtype == torch.float32 and yb.dtype == torch.int64


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import os
        return (os.system, (f"touch {self.target}",))


@pytest.mark.parametrize("writer", ["joblib", "pickle"])
def test_malicious_pickle_refused_and_nothing_runs(tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "fmnist_train.pkl"
    payload = [{"modul": np.zeros(8, np.float32), "label": _Evil(marker)}]
    if writer == "joblib":
        joblib.dump(payload, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump(payload, fh)
    with pytest.raises(UserError, match=r"refused to load .*fmnist_train\.pkl.*system"):
        safe_load(path)
    assert not marker.exists()


def test_object_arrays_refused(tmp_path):
    path = tmp_path / "x.pkl"
    joblib.dump([{"modul": np.array([object()], dtype=object), "label": 0}], path)
    with pytest.raises(UserError, match="refused"):
        safe_load(path)


def test_wrong_length_and_bad_labels(tmp_path):
    joblib.dump(_items(dim=7), tmp_path / "fmnist_train.pkl")
    with pytest.raises(UserError, match="length 7, expected 512"):
        load_split(tmp_path, "train")
    bad = _items(dim=512)
    bad[3]["label"] = 11
    joblib.dump(bad, tmp_path / "fmnist_val.pkl")
    with pytest.raises(UserError, match="item 3 has label 11"):
        load_split(tmp_path, "val")
    bad[3]["label"] = 2.5
    joblib.dump(bad, tmp_path / "fmnist_test.pkl")
    with pytest.raises(UserError, match="item 3 has label 2.5"):
        load_split(tmp_path, "test")


def test_missing_folder_names_the_fix(tmp_path):
    with pytest.raises(UserError, match="make_functaset"):
        load_split(tmp_path / "nowhere", "train")
