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


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _trained_state():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 32)).sum().backward()
    opt.step()
    return {"epoch": 1, "step": 0, "arch": "net", "state_dict": model.state_dict(), "optimizer": opt.state_dict(),
            "args": {"lr": 0.1}, "best_metric": 12.5}


def test_64_zeroed_bytes_anywhere_are_refused_in_one_line_or_change_nothing(tmp_path):
    """Before the CRC check, 22 of these 24 offsets loaded with changed weights or state."""
    path = ck.save_checkpoint(_trained_state(), tmp_path)
    raw, reference = path.read_bytes(), torch.load(path, weights_only=True)
    refused = 0
    for k in range(24):
        at = (len(raw) - 64) * k // 23
        damaged = tmp_path / f"zeroed_{at}.pth.tar"
        damaged.write_bytes(raw[:at] + bytes(64) + raw[at + 64:])
        try:
            loaded = ck.load_checkpoint(damaged, flag="--init-from")
        except UserError as err:
            refused += 1
            assert str(damaged) in str(err) and "given to --init-from" in str(err) and "\n" not in str(err)
            continue
        assert _same(reference, loaded), at  # loaded: then nothing that matters changed
    assert refused >= 20


def test_a_changed_tensor_byte_names_the_record(tmp_path):
    path = ck.save_checkpoint(_trained_state(), tmp_path)
    with zipfile.ZipFile(path) as archive:
        weight = max(archive.infolist(), key=lambda info: info.file_size)  # the largest tensor
    raw = bytearray(path.read_bytes())
    raw[weight.header_offset + 200] ^= 0x01  # one bit inside its bytes (past the ~100-byte local header)
    path.write_bytes(bytes(raw))
    with pytest.raises(UserError, match=rf"is damaged: its record '{weight.filename}' does not match the CRC-32"):
        ck.load_checkpoint(path)


def test_truncated_checkpoint_says_so_and_not_permissions(tmp_path):
    path = ck.save_checkpoint(_trained_state(), tmp_path)
    raw = path.read_bytes()
    for keep in (5000, len(raw) // 2, len(raw) - 10):
        cut = tmp_path / f"cut_{keep}.pth.tar"
        cut.write_bytes(raw[:keep])
        with pytest.raises(UserError, match=f"checkpoint {cut} given to --siren is incomplete .*cut off") as err:
            ck.load_checkpoint(cut, flag="--siren")
        assert "permission" not in str(err.value)


def test_checksums_are_written_and_files_without_them_still_load(tmp_path):
    path = ck.save_checkpoint(_trained_state(), tmp_path, is_best=True)
    for name in (ck.CHECKPOINT_NAME, ck.BEST_NAME):
        with zipfile.ZipFile(tmp_path / name) as archive:
            assert all(info.CRC != 0 for info in archive.infolist() if info.file_size)
            assert archive.testzip() is None
    assert _same(torch.load(path, weights_only=True), ck.load_checkpoint(path))  # plain torch.load still reads it
    legacy = tmp_path / "legacy.pth"  # torch's pre-zip format: no checksums, loads unchecked
    torch.save(_trained_state(), legacy, _use_new_zipfile_serialization=False)
    assert _same(ck.load_checkpoint(legacy), torch.load(legacy, weights_only=True))
    from torch.utils.serialization import config
    config.save.compute_crc32 = False  # a zip whose CRC fields are all 0: written without checksums
    try:
        torch.save(small_state(4.0), tmp_path / "nocrc.pth")
    finally:
        config.save.compute_crc32 = True
    assert torch.equal(ck.load_checkpoint(tmp_path / "nocrc.pth")["state_dict"]["w"], torch.full((3,), 4.0))


def test_flag_none_names_no_flag(tmp_path):
    with pytest.raises(UserError) as err:
        ck.load_checkpoint(tmp_path / "missing.pth", flag=None)
    assert "given to" not in str(err.value) and "check the path" not in str(err.value)


def test_a_damaged_checkpoint_names_only_a_replacement_that_exists(tmp_path):
    """The way out names another checkpoint of the same run only where there is one."""
    models = tmp_path / "run" / "models"
    ck.save_checkpoint({"epoch": 1, "w": torch.ones(3)}, models, is_best=True)
    ckpt = models / "checkpoint.pth.tar"
    ckpt.write_bytes(ckpt.read_bytes()[:200])
    with pytest.raises(UserError, match=f"use another checkpoint, e.g. {models / 'model_best.pth.tar'}, or copy"):
        ck.load_checkpoint(ckpt)
    loose = tmp_path / "loose.pth"
    loose.write_bytes(ckpt.read_bytes())
    with pytest.raises(UserError, match="use another checkpoint, or copy it again") as err:
        ck.load_checkpoint(loose)
    assert "model_best" not in str(err.value)
