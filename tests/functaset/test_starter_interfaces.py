"""The starter's names, called as its classifier.py and attack.py call them (danagershon/DL_INR_Project,
first commit): ``VanillaClassifier``, ``set_random_seeds`` and the ``-c/--cpu`` flag."""
import random

import joblib
import numpy as np
import pytest
import torch

from functaset.classifier import VanillaClassifier, main as classifier_main
from functaset.utils import get_fmnist_functa, set_random_seeds


@pytest.fixture(scope="module")
def course_folder(tmp_path_factory):
    """fmnist_{train,val,test}.pkl in the course format (joblib list of {'modul', 'label'})."""
    root = tmp_path_factory.mktemp("functaset")
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((10, 512)).astype(np.float32)
    for split, n in (("train", 80), ("val", 20), ("test", 30)):
        items = [{"modul": centers[i % 10] + 0.1 * rng.standard_normal(512).astype(np.float32), "label": i % 10}
                 for i in range(n)]
        joblib.dump(items, root / f"fmnist_{split}.pkl")
    return root


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_set_random_seeds_as_the_starter_calls_it():
    flags = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    try:
        set_random_seeds(0)  # the starter's call: default device 'cuda:0', harmless without a GPU
        first = _draws()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        set_random_seeds(0)
        assert _draws() == first
        set_random_seeds(1, device="cpu")
        assert _draws() != first
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags


def test_vanilla_classifier_is_the_starters_linear_layer(course_folder):
    device = "cpu"
    train_functaloader = get_fmnist_functa(data_dir=f"{course_folder}/fmnist_train.pkl", mode='train',
                                           batch_size=16, num_workers=2)
    classifier = VanillaClassifier(in_features=512, num_classes=10).to(device)
    predicted_scores = classifier(train_functaloader.dataset[0][0].to(device))  # the starter's inference example
    assert predicted_scores.shape == (10,)
    assert isinstance(classifier.net, torch.nn.Linear) and set(classifier.state_dict()) == {"net.weight", "net.bias"}


def test_cpu_flag_trains_a_vanilla_model_the_starter_can_load(course_folder, tmp_path):
    metrics = classifier_main(["-p", str(course_folder), "-b", "16", "-c", "--model", "vanilla", "--epochs", "3",
                               "--lr", "0.05", "--logdir", str(tmp_path / "run"), "--quiet"])
    assert metrics["test_acc"] > 50.0  # well separated toy classes: a linear layer learns them
    # attack.py of the starter: instantiate, then load the 'state_dict' of the saved checkpoint.
    classifier = VanillaClassifier(in_features=512, num_classes=10).to("cpu")
    classifier.load_state_dict(torch.load(metrics["model_path"])['state_dict'])
    x, y = get_fmnist_functa(data_dir=f"{course_folder}/fmnist_test.pkl", mode='test', batch_size=64).dataset.tensors
    assert 100.0 * (classifier(x).argmax(1) == y).float().mean().item() == pytest.approx(metrics["test_acc"])


def test_cpu_flag_contradicting_device_is_one_line(course_folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        classifier_main(["-p", str(course_folder), "-c", "--device", "cuda", "--logdir", str(tmp_path / "x")])
    assert exc.value.code == 2 and "-c/--cpu contradicts --device cuda" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_attack_py_takes_the_starters_cpu_flag(course_folder, tmp_path, capsys):
    from functaset.attack import build_parser, main as attack_main

    assert build_parser().parse_args(["-m", "x", "-c"]).cpu
    with pytest.raises(SystemExit) as exc:
        attack_main(["-m", "x.pth.tar", "-p", str(course_folder), "-c", "--device", "cuda",
                     "--logdir", str(tmp_path / "x")])
    assert exc.value.code == 2 and "-c/--cpu contradicts --device cuda" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
