"""AlexNet predictions: weights choices, offline message, image loading, CLI figure and labels."""
import json
import urllib.error

import pytest
import torch

from alexnet_rnn import predict
from common.embedded.samples import sample_photo_paths
from common.errors import UserError


def test_offline_imagenet_weights_name_both_options(monkeypatch):
    class Offline:
        url = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"

        def get_state_dict(self, **kwargs):
            raise urllib.error.URLError("no network")

    monkeypatch.setattr(predict, "imagenet_weights", lambda: Offline())
    with pytest.raises(UserError) as err:
        predict.resolve_weights("imagenet")
    assert "--weights PATH" in str(err.value) and "--weights random" in str(err.value)


def test_weights_from_a_state_dict_file(tmp_path):
    from torchvision.models import alexnet

    torch.manual_seed(0)
    net = alexnet()
    torch.save(net.state_dict(), tmp_path / "w.pth")
    clf = predict.load_classifier(str(tmp_path / "w.pth"))
    assert clf.pretrained and torch.equal(clf.model.net.features[0].weight, net.features[0].weight)
    assert len(clf.categories) == 1000 and clf.categories[1] == "goldfish"
    with pytest.raises(UserError, match="not found"):
        predict.resolve_weights(str(tmp_path / "missing.pth"))


def test_load_image_range_size_and_bad_file(tmp_path):
    img = predict.load_image(sample_photo_paths()["flower"])
    assert img.shape == (3, 224, 224) and img.min() >= 0 and img.max() <= 1 and img.std() > 0.05
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    for bad in (tmp_path / "broken.jpg", tmp_path / "missing.png"):
        with pytest.raises(UserError, match="cannot read image"):
            predict.load_image(bad)


def test_pixel_space_wrapper_normalises():
    out = predict.PixelSpaceClassifier(torch.nn.Identity())(torch.ones(1, 3, 2, 2))
    expected = (1 - torch.tensor(predict.IMAGENET_MEAN)) / torch.tensor(predict.IMAGENET_STD)
    assert torch.allclose(out[0, :, 0, 0], expected)


def test_cli_random_weights_labels_everything(tmp_path, capsys):
    photo = str(sample_photo_paths()["grace_hopper"])
    metrics = predict.main([photo, "--weights", "random", "--logdir", str(tmp_path / "run"), "--quiet"])
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert "RANDOM" in saved["weights"] and saved["data"].startswith("library sample photos")
    assert saved["grace_hopper_top1"] in predict.imagenet_weights().meta["categories"]
    captions = json.loads((tmp_path / "run" / "figures" / "captions.json").read_text())
    assert "RANDOM" in captions["predictions.png"]
    with pytest.raises(SystemExit) as err:
        predict.main([str(tmp_path / "nope.jpg"), "--weights", "random", "--logdir", str(tmp_path / "bad")])
    assert err.value.code == 2 and "cannot read image" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_wrong_weights_file_leaves_no_run_directory(tmp_path, capsys):
    torch.save({"fc.weight": torch.zeros(2, 3)}, tmp_path / "other.pth")
    for script in (predict.main, __import__("alexnet_rnn.adversarial", fromlist=["main"]).main):
        with pytest.raises(SystemExit) as err:
            script(["--weights", str(tmp_path / "other.pth"), "--logdir", str(tmp_path / "bad")])
        assert err.value.code == 2 and "not a torchvision AlexNet state_dict" in capsys.readouterr().err
        assert not (tmp_path / "bad").exists()


def test_prediction_caption_does_not_overlap_the_images(tmp_path, monkeypatch):
    import common.plotting as plotting

    figures = []
    monkeypatch.setattr(plotting.plt, "close", figures.append)
    images = torch.rand(3, 3, 224, 224)
    predict.prediction_figure(images, ["a", "b", "c"], tmp_path / "p.png", weights_label=predict.RANDOM_LABEL,
                              title="t", caption="a caption long enough to wrap onto several lines " * 10)
    fig = figures[0]
    caption = fig.texts[-1].get_window_extent(fig.canvas.get_renderer()).transformed(fig.transFigure.inverted())
    assert caption.y1 > 0.04  # it wrapped: the old fixed 4% margin would have been too small
    assert all(ax.get_position().y0 >= caption.y1 for ax in fig.axes)


def test_random_init_seed_gives_the_sample_photos_different_classes():
    """RANDOM_INIT_SEED's comment: untrained weights give the three photos three classes under it."""
    torch.manual_seed(predict.RANDOM_INIT_SEED)
    clf = predict.load_classifier("random")
    x = torch.stack([predict.load_image(p) for p in predict.default_images().values()])  # (3, 3, 224, 224)
    assert len(set(predict.predict_probs(clf.model, x).argmax(dim=1).tolist())) == 3
