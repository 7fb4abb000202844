"""The course starter's calls (danagershon/DL_INR_Project, first commit), made exactly as its
classifier.py and attack.py make them, against a functaset folder in the course format."""
import joblib
import numpy as np
import pytest
import torch
import torch.nn as nn

from functaset.attack import attack_classifier
from functaset.SIREN import ModulatedSIREN
from functaset.utils import get_fmnist_functa, vec_to_img


@pytest.fixture(scope="module")
def course_folder(tmp_path_factory):
    """fmnist_{train,val,test}.pkl (joblib list of {'modul': float32 (512,), 'label': int}) + modSiren.pth."""
    root = tmp_path_factory.mktemp("functaset")
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((10, 512)).astype(np.float32) * 1e-2
    for split, n in (("train", 60), ("val", 20), ("test", 30)):
        items = [{"modul": centers[i % 10] + 1e-3 * rng.standard_normal(512).astype(np.float32), "label": i % 10}
                 for i in range(n)]
        joblib.dump(items, root / f"fmnist_{split}.pkl")
    torch.manual_seed(0)
    inr = ModulatedSIREN(hidden=256, depth=10, modul_features=512)
    torch.save({"epoch": 0, "state_dict": inr.state_dict(), "loss": 0.0}, root / "modSiren.pth")
    return root


def test_classifier_py_calls(course_folder):
    data_path, batch_size, device = str(course_folder), 16, "cpu"
    train_functaloader = get_fmnist_functa(data_dir=f"{data_path}/fmnist_train.pkl", mode='train',
                                           batch_size=batch_size, num_workers=2)
    test_functaloader = get_fmnist_functa(data_dir=f"{data_path}/fmnist_test.pkl", mode='test',
                                          batch_size=batch_size, num_workers=2)
    inr = ModulatedSIREN(height=28, width=28, hidden_features=256, num_layers=10, modul_features=512)
    inr.load_state_dict(torch.load(f"{data_path}/modSiren.pth")['state_dict'])
    img = vec_to_img(inr, train_functaloader.dataset[0][0].to(device))
    assert img.shape == (28, 28)
    assert len(train_functaloader.dataset) == 60 and len(test_functaloader.dataset) == 30
    # The file named is the file read, whatever the mode; test is not shuffled.
    first = joblib.load(course_folder / "fmnist_test.pkl")[0]
    np.testing.assert_array_equal(test_functaloader.dataset[0][0].numpy(), first["modul"])
    # A folder still works (our scripts pass -p DIR).
    assert len(get_fmnist_functa(data_path, 8, "val").dataset) == 20


def test_attack_py_call(course_folder):
    loader = get_fmnist_functa(data_dir=f"{course_folder}/fmnist_test.pkl", mode='test', batch_size=8)
    torch.manual_seed(0)
    model = nn.Linear(512, 10)  # the starter's VanillaClassifier is one Linear layer
    criterion, linf_bound, device = nn.CrossEntropyLoss(), 1e-3, "cpu"
    acc = attack_classifier(model, loader, criterion, linf_bound, num_pgd_steps=10, device=device)
    assert type(acc) is float and float(acc) == acc and 0.0 <= acc <= 100.0  # the starter's TODO (5): the accuracy
    result = attack_classifier(model, loader, criterion, linf_bound, num_pgd_steps=10, device=device, details=True)
    assert result.accuracy == acc and result.x_adv.shape == (30, 512)
    assert (result.x_adv - result.x).abs().max() <= 1e-3 * (1 + 1e-5)
    assert result.accuracy <= 100.0 * (result.clean_pred == result.labels).float().mean()


class CourseInterfaceSIREN(nn.Module):
    """A module with the course ModulatedSIREN's interface: one (D,) vector -> (H*W, 1) pixels;
    a batch is refused, as the course's own class cannot decode one."""

    def __init__(self, decoder: ModulatedSIREN):
        super().__init__()
        self.height, self.width, self.decoder = decoder.height, decoder.width, decoder

    def forward(self, phi):
        assert phi.ndim == 1, "the course interface decodes a single vector"
        return self.decoder(phi).reshape(-1, 1)


def test_vec_to_img_shapes_for_both_interfaces():
    torch.manual_seed(0)
    ours = ModulatedSIREN(hidden=16, depth=2, modul_features=8)
    course = CourseInterfaceSIREN(ours)
    vecs = torch.randn(4, 8)
    assert course(vecs[0]).shape == (784, 1)
    expected = ours(vecs).detach()  # (4, 28, 28)
    for inr in (ours, course):
        torch.testing.assert_close(vec_to_img(inr, vecs), expected)
        torch.testing.assert_close(vec_to_img(inr, vecs[1]), expected[1])


def test_course_constructor_names_build_the_same_model():
    a = ModulatedSIREN(height=28, width=28, hidden_features=32, num_layers=3, modul_features=16, freq=20.0)
    b = ModulatedSIREN(hidden=32, depth=3, modul_features=16, w0=20.0)
    b.load_state_dict(a.state_dict())
    vec = torch.randn(16)
    torch.testing.assert_close(a(vec), b(vec))
    assert a.config() == b.config()
