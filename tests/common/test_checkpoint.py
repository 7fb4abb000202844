"""Checkpoint safety: atomic writes, CUDA checkpoints on CPU, clear errors for bad files."""
import io
import zipfile

import pytest
import torch

from common import checkpoint as ck
from common.errors import UserError


def small_state(value=1.0):
    return {"epoch": 1, "step": 0, "arch": "net", "state_dict": {"w": torch.full((3,), value)}}


def test_crash_during_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    ck.save_checkpoint(small_state(1.0), tmp_path)

    def broken_save(obj, path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half a checkpoint")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="simulated"):
        ck.save_checkpoint(small_state(2.0), tmp_path, is_best=True)
    monkeypatch.undo()
    loaded = ck.load_checkpoint(tmp_path / ck.CHECKPOINT_NAME)
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(3))
    assert not (tmp_path / ck.BEST_NAME).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [ck.CHECKPOINT_NAME]  # no temp files left


def as_cuda_checkpoint(path):
    """Rewrite a CPU checkpoint so its storages say 'cuda:0', as one saved on a GPU does."""
    src = zipfile.ZipFile(path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                # pickle BINUNICODE: 'X' + 4-byte little-endian length + text
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            dst.writestr(info, data)
    path.write_bytes(buf.getvalue())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks loading a CUDA checkpoint on a CPU-only machine")
def test_cuda_saved_checkpoint_loads_on_cpu(tmp_path):
    path = tmp_path / "gpu.pth.tar"
    torch.save(small_state(3.0), path)
    as_cuda_checkpoint(path)
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(path, weights_only=True)  # proves the file really is CUDA-tagged
    loaded = ck.load_checkpoint(path, map_location="cpu")
    assert loaded["state_dict"]["w"].device.type == "cpu"
    assert torch.equal(loaded["state_dict"]["w"], torch.full((3,), 3.0))


def test_bad_files_give_one_line_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        ck.load_checkpoint(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(UserError, match="corrupt"):
        ck.load_checkpoint(junk)
    good = tmp_path / "good.pth"
    torch.save(small_state(), good)
    with pytest.raises(UserError, match="architecture 'net'"):
        ck.load_checkpoint(good, expected_arch="resnet18")


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"state_dict": Evil()}, path)
    with pytest.raises(UserError, match="corrupt or not a PyTorch checkpoint"):
        ck.load_checkpoint(path)


def test_mismatched_weights_name_the_file(tmp_path):
    path = tmp_path / "c.pth"
    torch.save({"state_dict": torch.nn.Linear(3, 2).state_dict()}, path)
    with pytest.raises(UserError, match="does not fit this model"):
        ck.load_model_weights(torch.nn.Linear(4, 2), ck.load_checkpoint(path), path)
    ddp_style = {"module." + k: v for k, v in torch.nn.Linear(3, 2).state_dict().items()}
    ck.load_model_weights(torch.nn.Linear(3, 2), {"state_dict": ddp_style}, path)  # DDP prefix stripped
