"""Captions and metrics name the functaset by what it is, never by the folder it lies in (issue 18)."""
import json

from functaset.utils import data_label


def test_label_names_the_data_not_the_folder(tmp_path):
    folder = tmp_path / "some" / "run" / "functaset_digits"
    folder.mkdir(parents=True)
    (folder / "functaset.json").write_text(json.dumps({"data": "sklearn digits (embedded)", "preset": "demo"}))
    label = data_label(folder, "digits")
    assert "sklearn digits (embedded)" in label and "preset demo" in label and str(tmp_path) not in label
    course = tmp_path / "course"
    course.mkdir()
    assert data_label(course, "fmnist") == "course Fashion-MNIST functaset (fmnist_*.pkl)"
    assert str(tmp_path) not in data_label(course, "mnist")
