"""digits -> functaset -> classifier -> attack (+ robust training), end to end at tiny sizes."""
import json

import pytest

from functaset.attack import main as attack_main
from functaset.classifier import main as classifier_main
from functaset.make_functaset import main as make_main
from functaset.models import load_classifier


@pytest.fixture(scope="module")
def digits_functaset(tmp_path_factory):
    """A tiny digits functaset: untrained SIREN (stage 1 skipped), one fitting step per image
    (the classifier reached 89.7 % test accuracy on it when this test was written).

    Even without meta-learning, a step from zero is a fixed linear projection of the image,
    so the vectors carry the class.
    """
    root = tmp_path_factory.mktemp("functa")
    make_main(["--source", "digits", "--preset", "demo", "--out", str(root / "fs"), "--meta-epochs", "0",
               "--hidden", "16", "--depth", "2", "--modul-dim", "64", "--fit-optimizer", "sgd", "--fit-steps", "1",
               "--fit-lr", "10",
               "--logdir", str(root / "build"), "--quiet", "--device", "cpu"])
    return root


@pytest.fixture(scope="module")
def standard_model(digits_functaset):
    root = digits_functaset
    metrics = classifier_main(["-p", str(root / "fs"), "--epochs", "15", "--hidden", "64", "--depth", "1",
                               "--lr", "1e-2", "--logdir", str(root / "cls"), "--quiet", "--device", "cpu"])
    return metrics


def test_classifier_well_above_chance_with_three_confusion_matrices(digits_functaset, standard_model):
    m = standard_model
    assert "sklearn digits" in m["data"]
    print(f"digits functaset classifier: test accuracy {m['test_acc']:.2f}%")
    assert m["test_acc"] > 60.0, m  # chance is 10%
    figures = digits_functaset / "cls" / "figures"
    for split in ("train", "val", "test"):
        assert (figures / f"confusion_{split}.png").is_file()
    saved = json.loads((digits_functaset / "cls" / "metrics.json").read_text())
    assert saved["val_acc"] == pytest.approx(saved["best_val_acc1"], abs=1e-3)  # model_best is the val-best one
    assert load_classifier(m["model_path"]).hparams["in_dim"] == 64


def test_robust_training_and_attack_comparison(digits_functaset, standard_model):
    root = digits_functaset
    robust = {}
    for kind in ("pgd", "trades"):
        robust[kind] = classifier_main(
            ["-p", str(root / "fs"), "--epochs", "2", "--hidden", "64", "--depth", "1", "--adv-train", kind,
             "--train-eps", "1e-2", "--train-steps", "3", "--eps-warmup", "1", "--init-from",
             standard_model["model_path"], "--logdir", str(root / f"rob_{kind}"), "--quiet", "--device", "cpu"])
        assert "val_acc_robust" in robust[kind] and robust[kind]["adv_train"] == kind
    eps = ["1e-4", "1e-3", "1e-2", "0.1"]
    m = attack_main(["-m", standard_model["model_path"], "-p", str(root / "fs"), "--epsilons", *eps,
                     "--ratios", "0.1", "0.25", "--select-samples", "60", "--limit", "120",
                     "--compare", *(f"{k}={v['model_path']}" for k, v in robust.items()),
                     "--logdir", str(root / "att"), "--quiet", "--device", "cpu"])
    assert set(m["acc_by_eps"]) == set(eps) and m["clean_acc"] > 50
    acc = [m["acc_by_eps"][e] for e in eps]
    assert all(a >= b for a, b in zip(acc, acc[1:]))
    assert set(m["step_size_by_eps"]) == set(eps) and "acc_by_eps_pgd" in m and "acc_by_eps_trades" in m
    figures = root / "att" / "figures"
    for name in ("accuracy_vs_epsilon", "confusion_adversarial", "attack_examples"):
        assert (figures / f"{name}.png").is_file(), name
    captions = json.loads((figures / "captions.json").read_text())
    assert all("digits" in c for c in captions.values())
