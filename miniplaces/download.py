"""Download MiniPlaces into the layout ``custom_dataloader`` reads (needs internet).

    python -m miniplaces.download --root data/miniplaces

Fetches ``data.tar.gz`` from Google Drive with gdown (file id below, ~460 MB), the
``train.txt``/``val.txt`` label files from the CSAILVision/miniplaces GitHub repository
(``data/`` folder), and extracts the archive so that ``ROOT/images/train/...`` and
``ROOT/images/val/...`` exist.  Already-present pieces are kept; nothing is
overwritten.  Offline, it stops with one line saying what could not be fetched.
"""
from __future__ import annotations

import argparse
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from common.errors import UserError, cli_main
from common.io import atomic_write

GDRIVE_ID = "16GYHdSWS3iMYwMPv5FpeDZN2rH7PR0F2"
LABELS_URL = "https://raw.githubusercontent.com/CSAILVision/miniplaces/master/data/{name}"
LABEL_FILES = ("train.txt", "val.txt")


def fetch_labels(root: Path) -> None:
    for name in LABEL_FILES:
        target = root / name
        if target.is_file() and target.stat().st_size > 0:
            continue
        url = LABELS_URL.format(name=name)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                payload = response.read()
        except (urllib.error.URLError, OSError) as err:
            raise UserError(f"could not download {url} ({err}); are you online? You can also copy {name} "
                            f"from github.com/CSAILVision/miniplaces (data/) into {root}") from None
        atomic_write(target, lambda tmp: Path(tmp).write_bytes(payload))
        print(f"wrote {target}")


def fetch_archive(root: Path) -> Path:
    archive = root / "data.tar.gz"
    if archive.is_file() and archive.stat().st_size > 0:
        return archive
    try:
        import gdown
    except ImportError:
        raise UserError("gdown is not installed: pip install gdown (it is in requirements.txt)") from None
    partial = root / "data.tar.gz.part"
    try:
        result = gdown.download(id=GDRIVE_ID, output=str(partial), quiet=False)
    except Exception as err:  # noqa: BLE001 - gdown raises many types for network/quota problems
        raise UserError(f"could not download data.tar.gz from Google Drive (id {GDRIVE_ID}): "
                        f"{str(err).splitlines()[0] if str(err) else type(err).__name__}; are you online? "
                        f"Or download it by hand into {archive}") from None
    if result is None or not partial.is_file():
        raise UserError(f"gdown could not fetch Google Drive file {GDRIVE_ID} (quota or network); "
                        f"download it by hand into {archive}")
    partial.replace(archive)
    return archive


def extract(archive: Path, root: Path) -> None:
    """Unpack so that ``root/images/{train,val}`` exist (the archive's top folder is ``images``)."""
    images = root / "images"
    if (images / "train").is_dir() and (images / "val").is_dir():
        print(f"{images} already extracted; keeping it")
        return
    staging = root / "extract.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")  # refuses absolute paths and '..'
    except (tarfile.TarError, OSError) as err:
        raise UserError(f"cannot extract {archive} ({err}); delete it and run again") from None
    candidates = [staging / "images", staging / "data" / "images", staging]
    found = next((p for p in candidates if (p / "train").is_dir()), None)
    if found is None:
        raise UserError(f"{archive} holds no images/train folder; is it the MiniPlaces data.tar.gz?")
    found.rename(images)
    shutil.rmtree(staging, ignore_errors=True)


@cli_main
def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="data/miniplaces", help="target folder (default: data/miniplaces)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    fetch_labels(root)
    extract(fetch_archive(root), root)
    print(f"MiniPlaces ready in {root}: train.txt, val.txt, images/")
    return root


if __name__ == "__main__":
    main()
