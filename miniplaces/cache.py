"""Decode MiniPlaces once into uint8 arrays beside the data (the input of ``--data-on-device``).

    python -m miniplaces.cache data/miniplaces              # both splits at 144 px (the course's Scale(144))
    python -m miniplaces.cache data/miniplaces_toy --size 36

For each split it writes, under ``DATA/cache/``::

    <split>_<size>.npy          (N, S, S, 3) uint8 RGB (OpenCV's layout): every listed image after
                                the course's Scale(S) (INTER_LINEAR), in label-file order
    <split>_<size>.labels.npy   (N,) int64 labels
    <split>_<size>.json         what it was built from: image count, SHA-256 of the label
                                file, total bytes and newest mtime of the listed images

Why S = 144 and not the native 128: the validation transform (Scale(144) + centre crop
128) then becomes an exact integer crop of the cache, bit-identical to the JPEG path,
and a training crop is one bilinear resampling of the very image the course's
RandomSizedCrop sees.  It costs 27% more memory (100k training images: 6.2 GB).
A non-square image is scaled so its shorter side is S and centre-cropped to S x S.

The cache is checked against that signature on every use and rebuilt when the label
file or any image changed; each file is written to a temp file and renamed, the
signature last, so a killed build leaves no cache that looks valid.  Decoding runs on
all cores (OpenCV releases the GIL).  Bad data stops with one line naming the file.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

from common.cli import positive_int

CACHE_DIR = "cache"
FORMAT_VERSION = 2  # 2: (N, S, S, 3)


def cache_paths(root, split: str, size: int) -> dict[str, Path]:
    base = Path(root) / CACHE_DIR / f"{split}_{size}"
    return {"images": base.with_suffix(".npy"), "labels": Path(f"{base}.labels.npy"), "meta": base.with_suffix(".json")}


def source_signature(root, split: str, size: int, entries: list[tuple[str, int]]) -> dict:
    """What the cache must match: label-file checksum, image count, total bytes and newest mtime."""
    root = Path(root)
    label_file = root / f"{split}.txt"
    total, newest = 0, 0
    for rel, _ in entries:
        st = os.stat(root / "images" / rel)
        total, newest = total + st.st_size, max(newest, st.st_mtime_ns)
    return {"version": FORMAT_VERSION, "split": split, "size": size, "count": len(entries),
            "label_sha256": hashlib.sha256(label_file.read_bytes()).hexdigest(),
            "image_bytes": total, "image_mtime_ns": newest, "interpolation": "INTER_LINEAR"}


def _decode(path: Path, size: int, line: int, label_file: Path):
    """One image as (S, S, 3) uint8 RGB after Scale(S) (+ centre crop when not square)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        from common.errors import UserError
        raise UserError(f"cannot decode image {path} ({label_file} line {line}); re-extract data.tar.gz")
    h, w = img.shape[:2]
    if min(h, w) != size:  # the course's Scale(size): shorter side -> size, aspect kept
        scale = size / min(h, w)
        img = cv2.resize(img, (max(size, round(w * scale)), max(size, round(h * scale))),
                         interpolation=cv2.INTER_LINEAR)
        h, w = img.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    img = cv2.cvtColor(img[y:y + size, x:x + size], cv2.COLOR_BGR2RGB)
    return img


def _write_images(tmp: str, root: Path, split: str, size: int, entries, workers: int, quiet: bool) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import cv2
    import numpy as np

    from common.progress import progress

    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(entries), size, size, 3))
    label_file = root / f"{split}.txt"
    chunks = [range(i, min(i + 256, len(entries))) for i in range(0, len(entries), 256)]

    def fill(chunk: range) -> int:
        for i in chunk:
            out[i] = _decode(root / "images" / entries[i][0], size, i + 1, label_file)
        return len(chunk)

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # parallel over images instead of inside each small resize
    pool = ThreadPoolExecutor(max_workers=workers)
    bar = progress(total=len(entries), desc=f"cache {split} {size}px", quiet=quiet, unit="img")
    try:
        for done in pool.map(fill, chunks):
            bar.update(done)
    finally:  # on a bad image, drop the chunks not started yet
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        cv2.setNumThreads(threads)
    out.flush()


def build_cache(root, split: str, size: int, entries, signature: dict, *, workers: int | None = None,
                quiet: bool = False) -> dict[str, Path]:
    """Decode ``entries`` into the cache files (atomically, the signature last); returns their paths."""
    import numpy as np

    from common.io import atomic_write, atomic_write_json

    root, paths = Path(root), cache_paths(root, split, size)
    workers = workers or os.cpu_count() or 1
    paths["meta"].unlink(missing_ok=True)  # the old signature goes first: no stale cache looks valid
    atomic_write(paths["images"], lambda tmp: _write_images(tmp, root, split, size, entries, workers, quiet))
    labels = np.array([label for _, label in entries], dtype=np.int64)

    def write_labels(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, labels)

    atomic_write(paths["labels"], write_labels)
    atomic_write_json(paths["meta"], signature)
    return paths


def is_current(paths: dict[str, Path], signature: dict) -> bool:
    """Does the cache on disk match ``signature`` (and hold arrays of the right shape)?"""
    import numpy as np

    try:
        meta = json.loads(paths["meta"].read_text(encoding="utf-8"))
        if meta != signature:
            return False
        images = np.load(paths["images"], mmap_mode="r")
        labels = np.load(paths["labels"], mmap_mode="r")
    except (OSError, ValueError):
        return False
    n, s = signature["count"], signature["size"]
    return images.shape == (n, s, s, 3) and images.dtype == np.uint8 and labels.shape == (n,)


def ensure_cache(root, split: str, size: int, num_classes: int = 100, *, workers: int | None = None,
                 quiet: bool = False, build: bool = True):
    """The split's cache as ``(images, labels)`` numpy arrays (images memory-mapped), built if needed.

    With ``build=False`` a missing or stale cache is an error instead (DDP ranks > 0
    wait for rank 0 to build it, then load it this way).
    """
    import numpy as np

    from common.errors import UserError
    from miniplaces.custom_dataloader import MiniPlacesLoader

    entries = MiniPlacesLoader(root, num_classes=num_classes, split=split).entries  # checks the list and the images
    signature = source_signature(root, split, size, entries)
    paths = cache_paths(root, split, size)
    if not is_current(paths, signature):
        if not build:
            raise UserError(f"decoded cache {paths['images']} is missing or stale; build it with "
                            f"`python -m miniplaces.cache {root} --size {size}`")
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
                                          workers=args.workers, quiet=args.quiet)
            print(f"{split}: {images.shape[0]} images of {args.size}x{args.size}x3 "
                  f"({images.nbytes / 2**20:.0f} MiB) in {cache_paths(args.data_folder, split, args.size)['images']}")

    run()


if __name__ == "__main__":
    main()
