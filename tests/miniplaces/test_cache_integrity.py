"""The decoded cache knows what it was built from and what it holds; truncated JPEGs never train.

Source changes (a swapped or rewritten image, also one that keeps its size and mtime) rebuild
the cache; a damaged cache (pixels, labels) and unwritable folders stop with one line; Ctrl-C
during a build leaves nothing a later run would trust.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from common.errors import UserError
from miniplaces import cache
from miniplaces.cache import cache_paths, ensure_cache
from miniplaces.custom_dataloader import MiniPlacesLoader, ends_early, is_truncated

SIDE = 36


@pytest.fixture
def data(toy_root, tmp_path):
    return shutil.copytree(toy_root, tmp_path / "toy")


def _sha256s(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _lines(data):
    return [line.split() for line in (data / "train.txt").read_text().splitlines()]


def _decoded(path):
    img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return cv2.resize(img, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)


def _old_signature(data):
    """What the cache compared before (count, label file, total bytes, newest mtime): blind to a swap."""
    paths = [data / "images" / rel for rel, _ in _lines(data)]
    return (len(paths), (data / "train.txt").read_bytes(), sum(p.stat().st_size for p in paths),
            max(p.stat().st_mtime_ns for p in paths))


def test_two_images_of_different_classes_swapped_on_disk_rebuild_the_cache(data):
    ensure_cache(data, "train", SIDE, 4, quiet=True)
    lines = _lines(data)
    i = 0
    j = next(k for k, (_, label) in enumerate(lines) if label != lines[i][1])
    a, b = data / "images" / lines[i][0], data / "images" / lines[j][0]
    before = _old_signature(data)
    os.rename(a, a.with_suffix(".tmp"))
    os.rename(b, a)
    os.rename(a.with_suffix(".tmp"), b)
    assert _old_signature(data) == before  # the case the old signature could not see
    images, _ = ensure_cache(data, "train", SIDE, 4, quiet=True)
    assert np.array_equal(images[i], _decoded(a)) and np.array_equal(images[j], _decoded(b))


def test_an_image_rewritten_with_its_size_and_mtime_kept_rebuilds_the_cache(data):
    ensure_cache(data, "train", SIDE, 4, quiet=True)
    path = data / "images" / _lines(data)[3][0]
    st = path.stat()
    new = cv2.imencode(".jpg", 255 - cv2.imread(str(path)), [cv2.IMWRITE_JPEG_QUALITY, 30])[1].tobytes()
    assert len(new) <= st.st_size
    path.write_bytes(new + bytes(st.st_size - len(new)))  # zeros after the end marker: a valid JPEG, same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    images, _ = ensure_cache(data, "train", SIDE, 4, quiet=True)
    assert np.array_equal(images[3], _decoded(path))


def test_a_touched_or_copied_dataset_is_hashed_not_decoded_again(data, tmp_path):
    ensure_cache(data, "train", SIDE, 4, quiet=True)
    paths = cache_paths(data, "train", SIDE)
    built = paths["images"].stat().st_mtime_ns
    for rel, _ in _lines(data)[:5]:
        os.utime(data / "images" / rel, ns=(1, 10**18))  # new fingerprints, same bytes
    ensure_cache(data, "train", SIDE, 4, quiet=True)
    assert paths["images"].stat().st_mtime_ns == built  # not rebuilt
    refreshed = np.load(paths["files"])["stat"]
    assert refreshed[0, 1] == 10**18  # the new fingerprints are remembered
    copy = shutil.copytree(data, tmp_path / "copy")  # every inode and ctime differs
    images, _ = ensure_cache(copy, "train", SIDE, 4, quiet=True)
    assert cache_paths(copy, "train", SIDE)["images"].stat().st_mtime_ns == built  # copied (copy2), not rebuilt
    assert np.array_equal(images, np.load(paths["images"]))


def _pixel_offset(path) -> int:
    """Where the pixels start in a .npy file (after its header)."""
    with open(path, "rb") as fh:
        np.lib.format.read_magic(fh)
        np.lib.format.read_array_header_1_0(fh)
        return fh.tell()


def test_zeroed_cache_pixels_stop_with_one_line_and_rebuild_fixes_them(data, capsys):
    ensure_cache(data, "train", SIDE, 4, quiet=True)
    path = cache_paths(data, "train", SIDE)["images"]
    raw = bytearray(path.read_bytes())
    at = _pixel_offset(path) + 3 * SIDE * SIDE * 3  # inside image 4
    raw[at:at + 64] = bytes(64)
    path.write_bytes(bytes(raw))
    with pytest.raises(UserError, match=rf"decoded cache file {path} is damaged: the pixels of images 1\.\.16 .*"
                                        r"--rebuild`$") as err:
        ensure_cache(data, "train", SIDE, 4, quiet=True)
    assert "\n" not in str(err.value)
    cache.main([str(data), "--size", str(SIDE), "--num-classes", "4", "--splits", "train", "--rebuild", "--quiet"])
    images, _ = ensure_cache(data, "train", SIDE, 4, quiet=True)
    assert np.array_equal(images[3], _decoded(data / "images" / _lines(data)[3][0]))


def test_labels_out_of_range_stop_with_one_line(data):
    ensure_cache(data, "train", SIDE, 4, quiet=True)
    path = cache_paths(data, "train", SIDE)["labels"]
    labels = np.load(path)
    labels[0] = 99  # the model has 4 outputs: this used to be an IndexError in the middle of training
    np.save(path, labels)
    with pytest.raises(UserError, match=f"{path} is damaged: its labels are not those of .*train.txt "
                                        r"\(some lie outside 0\.\.3\)"):
        ensure_cache(data, "train", SIDE, 4, quiet=True)


def test_a_cache_of_the_previous_format_is_rebuilt(data, capsys):
    paths = cache_paths(data, "train", SIDE)
    ensure_cache(data, "train", SIDE, 4)
    paths["files"].unlink()
    meta = paths["meta"].read_text().replace('"version": 3', '"version": 2')
    paths["meta"].write_text(meta)
    ensure_cache(data, "train", SIDE, 4)
    assert "another label file, image count, size or cache format" in capsys.readouterr().out
    assert paths["files"].is_file()


def test_a_cache_path_that_is_a_file_is_one_line(data, capsys):
    (data / "cache").write_text("not a folder")
    before = _sha256s(data)
    with pytest.raises(SystemExit) as exit_:
        cache.main([str(data), "--size", str(SIDE), "--num-classes", "4", "--quiet"])
    assert _sha256s(data) == before
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and err == (f"error: {data / 'cache'} is a file, but the decoded cache is written "
                                             "into a folder of that name; move or delete that file")


def test_an_unwritable_data_folder_is_one_line_naming_it_and_the_ways_out(data, monkeypatch, capsys):
    """Simulated (the tests may run as root, who may write anywhere); the real case is below."""
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.name == "cache":
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    before = _sha256s(data)
    with pytest.raises(SystemExit) as exit_:
        cache.main([str(data), "--size", str(SIDE), "--num-classes", "4", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and "\n" not in err, err
    assert err.startswith(f"error: cannot write the decoded cache into {data / 'cache'}: {data / 'cache'} is "
                          "read-only; make it writable") and "without --data-on-device" in err
    assert _sha256s(data) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_folders_for_real(data, capsys):
    os.chmod(data, 0o555)
    try:
        with pytest.raises(UserError, match="is read-only"):
            ensure_cache(data, "train", SIDE, 4, quiet=True)
    finally:
        os.chmod(data, 0o755)
    ensure_cache(data, "train", SIDE, 4, quiet=True)
    os.chmod(data / "cache", 0o555)  # a current cache in a read-only folder is used as it is
    try:
        images, _ = ensure_cache(data, "train", SIDE, 4, quiet=True)
        assert len(images) == 16
    finally:
        os.chmod(data / "cache", 0o755)


def _slow_dataset(root: Path, count: int = 400) -> Path:
    """``count`` 512-px JPEGs (a few ms each to decode): a build that takes seconds with one thread."""
    rng = np.random.default_rng(0)
    blobs = [cv2.imencode(".jpg", cv2.GaussianBlur(rng.integers(0, 255, (512, 512, 3), dtype=np.uint8), (5, 5), 1))[1]
             .tobytes() for _ in range(4)]
    (root / "images" / "train").mkdir(parents=True)
    lines = []
    for i in range(count):
        (root / "images" / "train" / f"{i:05d}.jpg").write_bytes(blobs[i % 4])
        lines.append(f"train/{i:05d}.jpg {i % 4}\n")
    (root / "train.txt").write_text("".join(lines))
    return root


def test_ctrl_c_during_a_build_is_one_line_and_leaves_no_cache(tmp_path):
    root = _slow_dataset(tmp_path / "slow")
    before = _sha256s(root)
    proc = subprocess.Popen([sys.executable, "-m", "miniplaces.cache", str(root), "--splits", "train",
                             "--num-classes", "4", "-j", "1", "--quiet"], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    while not list((root / "cache").glob(".train_144.npy.*.tmp")):  # the build has started writing
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=60)[1].strip()
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert err.startswith("error: interrupted while decoding the train split into") and "\n" not in err, err
    assert sorted(p.name for p in (root / "cache").iterdir()) == []  # no temp file, no signature
    assert _sha256s(root) == before
    with pytest.raises(UserError, match="missing or stale"):
        ensure_cache(root, "train", 144, 4, build=False)


# ---------------------------------------------------------------- truncated images


def _truncate(path: Path, fraction: float) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * fraction)])


def test_is_truncated_reads_the_end_markers(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)
    jpeg = cv2.imencode(".jpg", img)[1].tobytes()
    png = cv2.imencode(".png", img)[1].tobytes()
    assert not is_truncated(jpeg) and not is_truncated(png) and not is_truncated(b"not an image")
    assert not is_truncated(jpeg + b"\x00" * 100)  # bytes after the end of the image are allowed
    for fraction in (0.6, 0.9, 0.999):
        assert is_truncated(jpeg[:int(len(jpeg) * fraction)]) and is_truncated(png[:int(len(png) * fraction)])
    (tmp_path / "a.jpg").write_bytes(jpeg + b"trailing")
    (tmp_path / "b.jpg").write_bytes(jpeg[:len(jpeg) * 9 // 10])
    assert not ends_early(tmp_path / "a.jpg") and ends_early(tmp_path / "b.jpg")


def _truncate_two(data) -> list[Path]:
    lines = _lines(data)
    paths = [data / "images" / lines[5][0], data / "images" / lines[9][0]]
    _truncate(paths[0], 0.9)
    _truncate(paths[1], 0.6)
    return paths


def test_truncated_jpegs_are_refused_at_cache_build_with_a_count(data):
    first, _ = _truncate_two(data)
    with pytest.raises(UserError, match=rf"^2 of 16 images listed in {data / 'train.txt'} are truncated .*, first "
                                        rf"{first} \(line 6\); re-extract data.tar.gz"):
        ensure_cache(data, "train", SIDE, 4, quiet=True)
    assert sorted(p.name for p in (data / "cache").iterdir()) == []


def test_truncated_jpegs_are_refused_on_the_jpeg_path_with_a_count(data, capfd):
    first, _ = _truncate_two(data)
    ds = MiniPlacesLoader(data, num_classes=4, split="train")
    assert ds[0][0].shape == (32, 32, 3)  # the others still load
    with pytest.raises(UserError, match=rf"^2 of 16 images .* truncated .*, first {first} \(line 6\)"):
        ds[9]
    assert "Premature end of JPEG" not in capfd.readouterr().err  # never handed to libjpeg
