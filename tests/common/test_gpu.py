"""CUDA paths of the engine (skipped without a GPU): AMP training, channels_last, CUDA->CPU checkpoints."""
import pytest
import torch

from common.checkpoint import load_checkpoint
from common.runctx import RunContext
from common.embedded.digits import DigitsMNIST
from common.data import make_loader
from common.engine import EngineConfig, Trainer
from common.rundir import RunDir
from common.train_digits import SmallCNN

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("amp", [True, False])
def test_cuda_training_with_amp_and_channels_last(tmp_path, amp):
    device = torch.device("cuda")
    torch.manual_seed(0)
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    cfg = EngineConfig(epochs=2, warmup_epochs=0.5, clip_grad=1.0, quiet=True, channels_last=True)
    trainer = Trainer(model, opt, make_loader(DigitsMNIST("train"), 64, train=True, device=device),
                      make_loader(DigitsMNIST("val"), 256, train=False, device=device),
                      ctx=RunContext.local(device, RunDir(tmp_path / "r"), amp), cfg=cfg, arch="cnn")
    history = trainer.fit()
    assert history[-1]["val_acc1"] > 60
    assert next(trainer.module.parameters()).is_cuda
    ckpt = load_checkpoint(tmp_path / "r" / "models" / "checkpoint.pth.tar", map_location="cpu")
    assert all(t.device.type == "cpu" for t in ckpt["state_dict"].values())
