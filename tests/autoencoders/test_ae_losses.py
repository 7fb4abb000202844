"""NT-Xent against an independent per-anchor formula, and MAE in pixel units."""
import math

import pytest
import torch

from autoencoders.losses import contrastive_logits, nt_xent_loss, pixel_mae_sum, reconstruction_loss


def reference_nt_xent(z1, z2, temperature):
    """SimCLR eq. (1) written out anchor by anchor, in float64."""
    z = torch.cat([z1, z2]).double()
    z = z / z.norm(dim=1, keepdim=True)
    two_n, n = len(z), len(z1)
    total = 0.0
    for i in range(two_n):
        positive = (i + n) % two_n
        sims = [float(z[i] @ z[k]) / temperature for k in range(two_n)]
        denominator = sum(math.exp(sims[k]) for k in range(two_n) if k != i)
        total += -math.log(math.exp(sims[positive]) / denominator)
    return total / two_n


@pytest.mark.parametrize("n", [1, 2, 5, 8])
@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_matches_reference_formula(n, temperature):
    gen = torch.Generator().manual_seed(n)
    z1, z2 = torch.randn(n, 16, generator=gen), torch.randn(n, 16, generator=gen)
    got = nt_xent_loss(z1, z2, temperature).item()
    assert got == pytest.approx(reference_nt_xent(z1, z2, temperature), rel=1e-5, abs=1e-6)


def test_random_embeddings_give_log_2n_minus_1():
    gen = torch.Generator().manual_seed(0)
    for n in (16, 64, 129):
        z1, z2 = torch.randn(n, 2048, generator=gen), torch.randn(n, 2048, generator=gen)
        assert nt_xent_loss(z1, z2, 0.5).item() == pytest.approx(math.log(2 * n - 1), abs=0.03)


def test_positive_counted_once_and_not_as_a_negative():
    # Orthonormal images, identical views: sim(pos) = 1, every other pair 0.  The exact loss is
    # -log(e^{1/t} / (e^{1/t} + (2N - 2))): a positive also counted among the negatives would
    # add a second e^{1/t} to the denominator, a missing one would drop the first.
    n, t = 6, 0.5
    z = torch.eye(n, 32)
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + 2 * n - 2))
    assert nt_xent_loss(z, z.clone(), t).item() == pytest.approx(expected, rel=1e-6)


def test_odd_last_batch_takes_size_from_tensor():
    z1, z2 = torch.randn(7, 8), torch.randn(7, 8)
    logits, targets = contrastive_logits(z1, z2)
    assert logits.shape == (14, 14) and targets.tolist() == list(range(7, 14)) + list(range(7))
    assert torch.isinf(logits.diagonal()).all()
    assert nt_xent_loss(z1, z2).item() == pytest.approx(reference_nt_xent(z1, z2, 0.5), rel=1e-5)


def test_gradient_pulls_positives_together():
    z1 = torch.randn(4, 8, requires_grad=True)
    z2 = torch.randn(4, 8)
    before = torch.nn.functional.cosine_similarity(z1, z2).detach()
    nt_xent_loss(z1, z2).backward()
    with torch.no_grad():
        after = torch.nn.functional.cosine_similarity(z1 - 0.1 * z1.grad, z2)
    assert (after > before).all()


def test_bad_shapes_and_temperature_raise():
    with pytest.raises(ValueError):
        nt_xent_loss(torch.randn(3, 4), torch.randn(4, 4))
    with pytest.raises(ValueError):
        nt_xent_loss(torch.randn(3, 4), torch.randn(3, 4), temperature=0.0)


def test_mae_is_in_pixel_units():
    mean, std = torch.tensor([0.5]), torch.tensor([0.25])
    target01 = torch.full((3, 1, 4, 4), 0.2)
    recon01 = torch.full((3, 1, 4, 4), 0.3)
    norm = lambda x: (x - 0.5) / 0.25  # noqa: E731
    # Normalised units would give |(-0.8) - (-1.2)| = 0.4 per pixel; pixels give 0.1.
    assert pixel_mae_sum(norm(recon01), norm(target01), mean, std).item() == pytest.approx(3 * 0.1, rel=1e-6)


def test_mae_clamps_reconstruction_to_valid_pixels_and_per_channel_stats():
    mean, std = torch.tensor([0.4, 0.5, 0.6]), torch.tensor([0.2, 0.25, 0.3])
    norm = lambda x: (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)  # noqa: E731
    target01 = torch.ones(1, 3, 2, 2)
    recon01 = torch.full((1, 3, 2, 2), 1.5)  # outside [0, 1]: clamped to 1 -> no error
    assert pixel_mae_sum(norm(recon01), norm(target01), mean, std).item() == pytest.approx(0.0, abs=1e-6)
    recon01 = torch.zeros(1, 3, 2, 2)
    assert pixel_mae_sum(norm(recon01), norm(target01), mean, std).item() == pytest.approx(1.0, rel=1e-6)


def test_reconstruction_losses():
    a, b = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    assert reconstruction_loss(a, b, "l1").item() == 1.0
    assert reconstruction_loss(a, 2 * b, "mse").item() == 4.0
    with pytest.raises(ValueError):
        reconstruction_loss(a, b, "huber?")
