"""Per-sample batched augmentation: independent views, valid range, known identities."""
import torch

from autoencoders.augment import LightAugment, ViewAugment, _hue_matrices, color_jitter, resized_crop_theta, warp


def _scene(b=16, c=3, size=32):
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(1, c, size, size, generator=gen)
    return img.expand(b, -1, -1, -1).contiguous()  # the same image b times


def test_views_differ_per_sample_and_between_calls():
    x = _scene()
    aug = ViewAugment("color")
    v1, v2 = aug(x), aug(x)
    assert v1.shape == x.shape and v1.min() >= 0 and v1.max() <= 1
    # Identical inputs, so any difference inside one batch comes from per-sample parameters.
    per_sample = (v1 - v1[:1]).flatten(1).abs().mean(1)[1:]
    assert (per_sample > 1e-3).all()
    assert (v1 - v2).abs().flatten(1).mean(1).min() > 1e-3


def test_digit_views_are_single_channel_and_independent():
    x = _scene(c=1, size=28)
    v = ViewAugment("digits")(x)
    assert v.shape == x.shape
    assert ((v - v[:1]).flatten(1).abs().mean(1)[1:] > 1e-3).all()


def test_identity_theta_is_identity_warp():
    x = _scene(b=2)
    theta = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3)
    assert torch.allclose(warp(x, theta), x, atol=1e-5)


def test_full_crop_with_flip_is_a_mirror():
    x = _scene(b=64)
    theta = resized_crop_theta(64, "cpu", scale=(1.0, 1.0), ratio=(1.0, 1.0))
    out = warp(x, theta)
    flipped = theta[:, 0, 0] < 0
    assert flipped.any() and (~flipped).any()
    assert torch.allclose(out[flipped], x[flipped].flip(-1), atol=1e-5)
    assert torch.allclose(out[~flipped], x[~flipped], atol=1e-5)


def test_crops_stay_inside_the_image():
    theta = resized_crop_theta(1000, "cpu")
    assert (theta[:, 0, 0].abs() + theta[:, 0, 2].abs() <= 1 + 1e-6).all()
    assert (theta[:, 1, 1].abs() + theta[:, 1, 2].abs() <= 1 + 1e-6).all()


def test_zero_hue_shift_is_identity_and_full_turn_too():
    eye = torch.eye(3).expand(2, 3, 3)
    assert torch.allclose(_hue_matrices(torch.tensor([0.0, 1.0])), eye, atol=1e-5)


def test_jitter_off_changes_nothing():
    x = _scene(b=4)
    assert torch.allclose(color_jitter(x, strength=0.5, p=0.0, gray_p=0.0), x, atol=1e-5)
    gray = color_jitter(x, strength=0.0, p=0.0, gray_p=1.0)
    assert torch.allclose(gray[:, 0], gray[:, 1]) and torch.allclose(gray[:, 1], gray[:, 2])


def test_light_augment_shapes():
    for kind, c, s in (("color", 3, 32), ("digits", 1, 28)):
        out = LightAugment(kind)(_scene(b=8, c=c, size=s))
        assert out.shape == (8, c, s, s) and 0 <= out.min() and out.max() <= 1
