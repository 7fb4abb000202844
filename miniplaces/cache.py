"""Decode MiniPlaces once into uint8 arrays beside the data (the input of ``--data-on-device``).

    python -m miniplaces.cache data/miniplaces              # both splits at 144 px (the course's Scale(144))
    python -m miniplaces.cache data/miniplaces_toy --size 36

For each split it writes, under ``DATA/cache/``::

    <split>_<size>.npy          (N, S, S, 3) uint8 RGB (OpenCV's layout): every listed image after
                                the course's Scale(S) (INTER_LINEAR), in label-file order
    <split>_<size>.labels.npy   (N,) int64 labels
    <split>_<size>.files.npz    per listed image: its stat fingerprint (size, mtime, ctime, inode) and
                                a BLAKE2b-128 hash of its bytes, taken from the bytes that were decoded
    <split>_<size>.json         what it was built from: image count, SHA-256 of the label file, and
                                a CRC-32 of every block of 4096 cached images

Why S = 144 and not the native 128: the validation transform (Scale(144) + centre crop
128) then becomes an exact integer crop of the cache, bit-identical to the JPEG path,
and a training crop is one bilinear resampling of the very image the course's
RandomSizedCrop sees.  It costs 27% more memory (100k training images: 6.2 GB).
A non-square image is scaled so its shorter side is S and centre-cropped to S x S.

Every use checks the cache, cheapest first: the label file's checksum; labels.npy against
it; every listed image's stat fingerprint (an image whose fingerprint changed is hashed
again, and only a changed hash rebuilds the cache, so a copied or touched dataset is not
re-decoded); then the pixels' CRC-32s (blocks in parallel).  Changed source images rebuild
the cache; a damaged cache (labels or pixels that do not match what was recorded) stops
with one line, and ``--rebuild`` rebuilds it.  Each file is written to a temp file and
renamed, the signature last, so a killed or interrupted build leaves no cache that looks
valid.  Decoding runs on all cores (OpenCV releases the GIL).  Bad data (an undecodable or
truncated image) stops with one line naming the file.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common.cli import positive_int
from common.errors import UserError

CACHE_DIR = "cache"
FORMAT_VERSION = 3  # 2: (N, S, S, 3); 3: + per-image fingerprints and hashes, pixel CRC-32s
CRC_BLOCK = 4096  # images per pixel CRC-32 (the chunk device_data.place copies at a time)


def cache_paths(root, split: str, size: int) -> dict[str, Path]:
    base = Path(root) / CACHE_DIR / f"{split}_{size}"
    return {"images": base.with_suffix(".npy"), "labels": Path(f"{base}.labels.npy"),
            "files": Path(f"{base}.files.npz"), "meta": base.with_suffix(".json")}


def source_signature(root, split: str, size: int, entries: list[tuple[str, int]]) -> dict:
    """What the cache's json must match: format, split, size, image count and label-file checksum."""
    label_file = Path(root) / f"{split}.txt"
    return {"version": FORMAT_VERSION, "split": split, "size": size, "count": len(entries),
            "label_sha256": hashlib.sha256(label_file.read_bytes()).hexdigest(), "interpolation": "INTER_LINEAR"}


def fingerprint(st: os.stat_result) -> tuple[int, int, int, int]:
    """What changes whenever a file's bytes do (ctime: also when the mtime is set back)."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def content_hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def pixel_crcs(images, workers: int) -> list[int]:
    """CRC-32 of every block of :data:`CRC_BLOCK` images (zlib releases the GIL: blocks run in parallel)."""
    import zlib

    import numpy as np

    def crc(start: int) -> int:
        return zlib.crc32(np.ascontiguousarray(images[start:start + CRC_BLOCK]).data)

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        return list(pool.map(crc, range(0, len(images), CRC_BLOCK)))
    finally:  # Ctrl-C: the blocks not started are dropped
        pool.shutdown(wait=True, cancel_futures=True)


def _save(path: str, **arrays) -> None:
    import numpy as np

    with open(path, "wb") as fh:  # a handle: np.save/savez would append a suffix to the temp name
        if len(arrays) == 1:
            np.save(fh, *arrays.values())
        else:
            np.savez(fh, **arrays)


# --------------------------------------------------------------------------- checking


def check_cache(root, paths: dict[str, Path], signature: dict, entries, workers: int,
                num_classes: int = 100) -> str | None:
    """Why the cache must be built (None: it is current); a damaged cache is a UserError naming the file."""
    try:
        meta = json.loads(paths["meta"].read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return "no cache yet"
    except (OSError, ValueError):
        return "its signature file is unreadable"
    if not isinstance(meta, dict) or {k: meta.get(k) for k in signature} != signature:
        return "it was built from another label file, image count, size or cache format"

    def damaged(path: Path, what: str) -> UserError:
        return UserError(f"decoded cache file {path} is damaged: {what}; rebuild it with `python -m miniplaces.cache "
                         f"{root} --size {signature['size']} --splits {signature['split']} --rebuild`")

    images, stats, hashes = _checked_arrays(root, paths, signature, entries, num_classes, damaged)
    changed = _changed_sources(root, entries, stats, hashes, paths["files"], workers)
    if changed:
        return changed
    n, want = len(entries), meta.get("pixel_crc32")
    if meta.get("crc_block") != CRC_BLOCK or not isinstance(want, list) or len(want) != -(-n // CRC_BLOCK):
        raise damaged(paths["meta"], "it records no pixel checksums")
    bad = [i for i, (got, crc) in enumerate(zip(pixel_crcs(images, workers), want)) if got != crc]
    if bad:
        first = bad[0] * CRC_BLOCK
        raise damaged(paths["images"], f"the pixels of images {first + 1}..{min(first + CRC_BLOCK, n)} (and "
                                       f"{len(bad) - 1} more blocks of {CRC_BLOCK}) differ from the CRC-32 "
                                       "recorded when it was built")
    return None


def _checked_arrays(root, paths: dict[str, Path], signature: dict, entries, num_classes: int, damaged):
    """``(images memmap, stat fingerprints, content hashes)`` once their files, shapes and labels are right."""
    import numpy as np

    for key in ("images", "labels", "files"):
        if not paths[key].is_file():
            raise damaged(paths[key], "it is missing")
    try:
        images = np.load(paths["images"], mmap_mode="r")
        labels = np.load(paths["labels"])
        with np.load(paths["files"]) as files:
            stats, hashes = files["stat"], files["blake2b"]
    except (OSError, ValueError, KeyError) as err:
        raise damaged(paths["images"].with_suffix(".*"), f"unreadable ({err})") from None
    n, s = signature["count"], signature["size"]
    if images.shape != (n, s, s, 3) or images.dtype != np.uint8:
        raise damaged(paths["images"], f"it holds {images.dtype} {images.shape}, expected uint8 {(n, s, s, 3)}")
    expected = np.array([label for _, label in entries], dtype=np.int64)
    if labels.shape != expected.shape or not np.array_equal(labels, expected):
        outside = labels.size and (labels.min() < 0 or labels.max() >= num_classes)
        raise damaged(paths["labels"], f"its labels are not those of {Path(root) / (signature['split'] + '.txt')}"
                                       + (f" (some lie outside 0..{num_classes - 1})" if outside else ""))
    if stats.shape != (n, 4) or hashes.shape != (n, 16):
        raise damaged(paths["files"], f"it records {len(stats)} images, expected {n}")
    return images, stats, hashes


def _changed_sources(root, entries, stats, hashes, files_path: Path, workers: int) -> str | None:
    """Which listed images changed since the build: those whose stat fingerprint moved are hashed again."""
    import numpy as np

    from common.io import atomic_write

    images = os.path.join(root, "images")
    now = np.array([fingerprint(os.stat(os.path.join(images, rel))) for rel, _ in entries], dtype=np.int64)
    moved = np.flatnonzero((now != stats).any(axis=1))
    if not len(moved):
        return None

    def same(i: int) -> bool:
        with open(os.path.join(images, entries[i][0]), "rb") as fh:
            return content_hash(fh.read()) == hashes[i].tobytes()

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        differ = [i for i, ok in zip(moved, pool.map(same, moved)) if not ok]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if differ:
        return (f"{len(differ)} of its {len(entries)} source images changed since it was built, "
                f"first {os.path.join(images, entries[differ[0]][0])}")
    try:  # the bytes are the same (a copied, touched or chmod-ed dataset): remember the new fingerprints
        atomic_write(files_path, lambda tmp: _save(tmp, stat=now, blake2b=hashes))
    except OSError:
        pass  # a read-only cache stays usable; those images are hashed again next time
    return None


# --------------------------------------------------------------------------- building


def _decode(data: bytes, size: int, path: Path, line: int, label_file: Path):
    """One image as (S, S, 3) uint8 RGB after Scale(S) (+ centre crop when not square)."""
    import cv2

    from miniplaces import custom_dataloader

    img = custom_dataloader.decode_image(data, path, f"{label_file} line {line}")  # the very bytes that were hashed
    h, w = img.shape[:2]
    if min(h, w) != size:  # the course's Scale(size): shorter side -> size, aspect kept
        scale = size / min(h, w)
        img = cv2.resize(img, (max(size, round(w * scale)), max(size, round(h * scale))),
                         interpolation=cv2.INTER_LINEAR)
        h, w = img.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return cv2.cvtColor(img[y:y + size, x:x + size], cv2.COLOR_BGR2RGB)


def _read(path: Path) -> tuple[bytes, os.stat_result]:
    try:
        with open(path, "rb") as fh:
            return fh.read(), os.fstat(fh.fileno())
    except OSError as err:
        raise UserError(f"cannot read image {path}: {err.strerror or err}") from None


def _write_images(tmp: str, root: Path, split: str, size: int, entries, workers: int, quiet: bool,
                  record: dict) -> None:
    """Decode every image into ``tmp``; fills ``record`` (fingerprints, hashes, pixel CRCs) on the way."""
    import cv2
    import numpy as np

    from common.progress import progress
    from miniplaces.custom_dataloader import is_truncated, truncated_error

    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(entries), size, size, 3))
    label_file, images = root / f"{split}.txt", root / "images"
    chunks = [range(i, min(i + 256, len(entries))) for i in range(0, len(entries), 256)]
    truncated: list[int] = []

    def fill(chunk: range) -> int:
        for i in chunk:
            data, st = _read(images / entries[i][0])
            record["stat"][i], record["blake2b"][i] = fingerprint(st), np.frombuffer(content_hash(data), np.uint8)
            if is_truncated(data):
                truncated.append(i)  # counted, then refused below: never cached
                continue
            out[i] = _decode(data, size, images / entries[i][0], i + 1, label_file)
        return len(chunk)

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # parallel over images instead of inside each small resize
    pool = ThreadPoolExecutor(max_workers=workers)
    bar = progress(total=len(entries), desc=f"cache {split} {size}px", quiet=quiet, unit="img")
    try:
        for done in pool.map(fill, chunks):
            bar.update(done)
    finally:  # on a bad image or Ctrl-C, drop the chunks not started yet
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        cv2.setNumThreads(threads)
    if truncated:
        raise truncated_error(label_file, images, entries, sorted(truncated))
    out.flush()
    record["pixel_crc32"] = pixel_crcs(out, workers)


def build_cache(root, split: str, size: int, entries, signature: dict, *, workers: int | None = None,
                quiet: bool = False) -> dict[str, Path]:
    """Decode ``entries`` into the cache files (atomically, the signature last); returns their paths.

    Ctrl-C, an unwritable or full disk, or a bad image stop with one line; what was written is
    removed or, without its signature, never trusted.
    """
    import numpy as np

    from common.io import atomic_write, atomic_write_json

    root, paths = Path(root), cache_paths(root, split, size)
    workers = workers or os.cpu_count() or 1
    n = len(entries)
    record = {"stat": np.zeros((n, 4), np.int64), "blake2b": np.zeros((n, 16), np.uint8)}
    labels = np.array([label for _, label in entries], dtype=np.int64)
    try:
        paths["meta"].unlink(missing_ok=True)  # the old signature goes first: no stale cache looks valid
        atomic_write(paths["images"], lambda tmp: _write_images(tmp, root, split, size, entries, workers, quiet,
                                                                record))
        atomic_write(paths["labels"], lambda tmp: _save(tmp, labels=labels))
        atomic_write(paths["files"], lambda tmp: _save(tmp, stat=record["stat"], blake2b=record["blake2b"]))
        atomic_write_json(paths["meta"], {**signature, "crc_block": CRC_BLOCK, "pixel_crc32": record["pixel_crc32"]})
    except KeyboardInterrupt:
        raise UserError(f"interrupted while decoding the {split} split into {paths['images']}; nothing half-written "
                        "was kept: run the command again to build the cache") from None
    except OSError as err:
        raise UserError(_write_error(paths["meta"].parent, err)) from None
    return paths


def _write_error(folder: Path, err: OSError) -> str:
    """One line for a cache that cannot be written, with the ways out."""
    if folder.exists() and not folder.is_dir():
        return (f"{folder} is a file, but the decoded cache is written into a folder of that name; "
                "move or delete that file")
    where = err.filename or folder
    if isinstance(err, PermissionError):
        return (f"cannot write the decoded cache into {folder}: {where} is read-only; make it writable "
                f"(chmod u+w), run on a writable copy of the data folder, or train without --data-on-device")
    return (f"cannot write the decoded cache into {folder} ({err.strerror or err}: {where}); free disk space "
            "or run on a copy of the data folder elsewhere")


def ensure_cache(root, split: str, size: int, num_classes: int = 100, *, workers: int | None = None,
                 quiet: bool = False, build: bool = True, rebuild: bool = False):
    """The split's cache as ``(images, labels)`` numpy arrays (images memory-mapped), built if needed.

    With ``build=False`` a missing or stale cache is an error instead (DDP ranks > 0
    wait for rank 0 to build it, then load it this way); ``rebuild=True`` decodes it again
    whatever is on disk.  A damaged cache is an error naming the file and ``--rebuild``.
    """
    import numpy as np

    from miniplaces.custom_dataloader import MiniPlacesLoader

    entries = MiniPlacesLoader(root, num_classes=num_classes, split=split).entries  # checks the list and the images
    signature = source_signature(root, split, size, entries)
    paths = cache_paths(root, split, size)
    workers = workers or os.cpu_count() or 1
    try:
        stale = "--rebuild" if rebuild else check_cache(root, paths, signature, entries, workers, num_classes)
    except KeyboardInterrupt:
        raise UserError(f"interrupted while checking the decoded cache {paths['images']}; nothing was "
                        "changed") from None
    if stale:
        if not build:
            raise UserError(f"decoded cache {paths['images']} is missing or stale ({stale}); build it with "
                            f"`python -m miniplaces.cache {root} --size {size}`")
        if not quiet:
            print(f"decoding the {split} split into {paths['images']} ({stale})", flush=True)
        start = time.perf_counter()
        build_cache(root, split, size, entries, signature, workers=workers, quiet=quiet)
        if not quiet:
            print(f"decoded {len(entries)} {split} images into {paths['images']} "
                  f"in {time.perf_counter() - start:.1f} s", flush=True)
    return np.load(paths["images"], mmap_mode="r"), np.load(paths["labels"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_folder", help="MiniPlaces root with train.txt, val.txt and images/")
    parser.add_argument("--size", type=positive_int, default=144,
                        help="side of the cached images: the course's Scale size (default: 144; "
                             "main.py --image-size N uses round(N * 144 / 128))")
    parser.add_argument("--splits", nargs="+", default=["train", "val"], choices=["train", "val"],
                        help="which splits to decode (default: train val)")
    parser.add_argument("--num-classes", type=positive_int, default=100,
                        help="labels must lie in 0..N-1 (default: 100)")
    parser.add_argument("-j", "--workers", type=positive_int, default=None,
                        help="decoding threads (default: all cores)")
    parser.add_argument("--rebuild", action="store_true",
                        help="decode again even if the cache looks current (e.g. after it was reported damaged)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    from common.errors import cli_main

    @cli_main
    def run() -> None:
        from common.errors import UserError
        if args.size < 8:
            raise UserError(f"--size {args.size}: need at least 8 pixels")
        for split in args.splits:
            images, labels = ensure_cache(args.data_folder, split, args.size, args.num_classes,
                                          workers=args.workers, quiet=args.quiet, rebuild=args.rebuild)
            print(f"{split}: {images.shape[0]} images of {args.size}x{args.size}x3 "
                  f"({images.nbytes / 2**20:.0f} MiB) in {cache_paths(args.data_folder, split, args.size)['images']}")

    run()


if __name__ == "__main__":
    main()
