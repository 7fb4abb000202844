"""Architecture limits, shapes, and the frozen encoder staying bit-identical."""
import pytest
import torch
import torch.nn as nn

from autoencoders.models import (AutoEncoder, ContrastiveModel, Decoder, Encoder, EncoderClassifier,
                                 FrozenEncoderClassifier, classifier_head, encoder_fingerprint, projection_head)
from common.engine import EngineConfig, Trainer


def weight_layers(module: nn.Module) -> int:
    return sum(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) for m in module.modules())


@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32)])
def test_shapes_and_three_layer_budget(channels, size):
    enc = Encoder(in_channels=channels, image_size=size, latent_dim=128, width=8)
    dec = Decoder(out_channels=channels, image_size=size, latent_dim=128, width=8)
    x = torch.randn(5, channels, size, size)
    assert enc(x).shape == (5, 128)
    assert AutoEncoder(enc, dec)(x).shape == x.shape
    assert weight_layers(enc) <= 3 and weight_layers(dec) <= 3
    assert ContrastiveModel(enc, projection_head(128, 64))(x).shape == (5, 64)


def _toy_loader(n=48, batch=16, channels=1, size=28):
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, channels, size, size, generator=gen), torch.randint(0, 10, (n,), generator=gen)
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]


def _train(model):
    params = [p for p in model.parameters() if p.requires_grad]
    trainer = Trainer(model, torch.optim.SGD(params, lr=0.5), _toy_loader(), None,
                      cfg=EngineConfig(epochs=2, quiet=True, topk=(1,)))
    trainer.fit()


def _snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_frozen_encoder_weights_and_batchnorm_stats_unchanged():
    torch.manual_seed(0)
    enc = Encoder(in_channels=1, image_size=28, width=8)
    # Make the running stats differ from their initial values, as after pre-training.
    enc.train()
    enc(torch.randn(32, 1, 28, 28) * 3 + 1)
    before, fingerprint = _snapshot(enc), encoder_fingerprint(enc)
    model = FrozenEncoderClassifier(enc, classifier_head(128, 10))
    head_before = _snapshot(model.head)
    _train(model)
    after = enc.state_dict()
    assert set(before) == set(after)
    assert any("running_mean" in k for k in after) and any("num_batches_tracked" in k for k in after)
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    assert encoder_fingerprint(enc) == fingerprint
    assert all(not p.requires_grad for p in enc.parameters())
    assert not enc.training
    assert any(not torch.equal(v, model.head.state_dict()[k]) for k, v in head_before.items()), "head must train"


def test_unfrozen_encoder_would_change():
    # Same procedure with a jointly trained encoder: weights and BN stats move, so the test above can fail.
    torch.manual_seed(0)
    enc = Encoder(in_channels=1, image_size=28, width=8)
    before, fingerprint = _snapshot(enc), encoder_fingerprint(enc)
    _train(EncoderClassifier(enc, classifier_head(128, 10)))
    assert encoder_fingerprint(enc) != fingerprint
    bn_keys = [k for k in before if "running_mean" in k]
    assert any(not torch.equal(before[k], enc.state_dict()[k]) for k in bn_keys)


def test_frozen_wrapper_keeps_encoder_in_eval_mode():
    model = FrozenEncoderClassifier(Encoder(in_channels=1, image_size=28, width=4), classifier_head(128, 10))
    model.train()
    assert model.head.training and not model.encoder.training


def test_fingerprint_sees_buffers():
    enc = Encoder(in_channels=1, image_size=28, width=4)
    fingerprint = encoder_fingerprint(enc)
    enc.features[0][1].running_var.add_(1e-3)
    assert encoder_fingerprint(enc) != fingerprint
