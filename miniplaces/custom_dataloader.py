"""MiniPlaces in its published layout, read with OpenCV.

    ROOT/train.txt   lines ``train/a/abbey/00000001.jpg 0``   (100,000 lines, labels 0-99)
    ROOT/val.txt     lines ``val/00000001.jpg 71``            (10,000 lines)
    ROOT/test.txt    lines ``test/00000001.jpg`` (label optional: -1 when absent)
    ROOT/images/...  the 128x128 JPEGs named in those files

Every problem the user can fix (a missing label file or image, a malformed line, a
label out of range) is a :class:`common.errors.UserError` naming the file and line.
``python -m miniplaces.toy_data`` writes the same layout offline.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import Dataset

from common.errors import UserError

_JPEG_START, _JPEG_END, _JPEG_SCAN = b"\xff\xd8", b"\xff\xd9", b"\xff\xda"
_PNG_START, _PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND"
TOY_NOTE = "TOY_DATA.txt"
REAL_LABEL = "MiniPlaces (real data)"
FETCH_HINT = ("get MiniPlaces with `python -m miniplaces.download --root DATA` "
              "(or `bash scripts/download_miniplaces.sh`), "
              "or write offline toy data with `python -m miniplaces.toy_data DATA`")


def read_label_file(path: Path, num_classes: int, labelled: bool = True) -> list[tuple[str, int]]:
    """``(relative image path, label)`` per line; blank lines are skipped.

    ``labelled=False`` (the test split) also accepts lines that name only an image; their label is -1.
    """
    if not path.is_file():
        raise UserError(f"label file not found: {path} ({FETCH_HINT})")
    entries = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.split()
            if not fields:
                continue
            if not labelled and len(fields) == 1:
                entries.append((fields[0], -1))
                continue
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                raise UserError(f"{path}:{lineno}: malformed line {line.strip()!r}; expected "
                                "'<image path relative to images/> <integer label>'")
            label = int(fields[1])
            if not 0 <= label < num_classes:
                raise UserError(f"{path}:{lineno}: label {label} is outside 0..{num_classes - 1}; "
                                "fix the file or pass the right --num-classes")
            entries.append((fields[0], label))
    if not entries:
        raise UserError(f"label file {path} lists no images ({FETCH_HINT})")
    return entries


def is_truncated(data: bytes) -> bool:
    """Does this JPEG (or PNG) end before its end marker?  libjpeg only warns and fills the rest with grey.

    A complete JPEG's last end-of-image marker (FF D9) follows its last start-of-scan (FF DA);
    entropy-coded data cannot hold either (an FF there is followed by 00), so trailing bytes
    after the image are allowed.  Other formats: False (the decoder judges them).
    """
    if data[:2] == _JPEG_START:
        return not data.endswith(_JPEG_END) and data.rfind(_JPEG_END) < data.rfind(_JPEG_SCAN)
    if data[:8] == _PNG_START:
        return _PNG_END not in data[-64:]
    return False


def ends_early(path) -> bool:
    """:func:`is_truncated` from a file's first and last bytes; the whole file is read only when
    its last bytes are no end marker (a truncated image, or bytes after the end)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        head, tail = os.pread(fd, 8, 0), os.pread(fd, 16, max(0, size - 16))
    finally:
        os.close(fd)
    if head[:2] == _JPEG_START:
        complete = tail.endswith(_JPEG_END)
    else:
        complete = head[:8] != _PNG_START or _PNG_END in tail
    return not complete and is_truncated(Path(path).read_bytes())


def decode_image(data: bytes, path, detail: str = "corrupt or not an image") -> np.ndarray:
    """The bytes of image ``path`` decoded as ``cv2.imread`` would (BGR); one line if they cannot be."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise UserError(f"cannot decode image {path} ({detail}); re-extract data.tar.gz")
    return img


def truncated_error(label_file: Path, images: Path, entries: list[tuple[str, int]], bad: list[int]) -> UserError:
    """One line for truncated images: how many, and the first one (``bad``: indices into ``entries``)."""
    rel = entries[bad[0]][0]
    return UserError(f"{len(bad)} of {len(entries)} images listed in {label_file} are truncated (their data ends "
                     f"before the image does), first {images / rel} (line {bad[0] + 1}); re-extract data.tar.gz "
                     f"into {images} ({FETCH_HINT})")


def class_names_from(entries: list[tuple[str, int]], num_classes: int) -> list[str]:
    """Category names from training paths ``train/<letter>/<name>/<file>.jpg`` (else ``class <k>``)."""
    names = [f"class {k}" for k in range(num_classes)]
    for rel, label in entries:
        parts = Path(rel).parts
        if len(parts) >= 4 and parts[0] == "train":
            names[label] = "/".join(parts[2:-1])
    return names


def data_label(root: str | os.PathLike) -> str:
    """What the data is, for metrics.json and captions: toy data says so (see toy_data.py)."""
    note = Path(root) / TOY_NOTE
    if note.is_file():
        return note.read_text(encoding="utf-8").splitlines()[0].strip()
    return REAL_LABEL


class MiniPlacesLoader(Dataset):
    """``(image tensor, label)`` pairs of one split; the course helper's signature.

    Args:
        root_folder: the folder holding ``<split>.txt`` and ``images/``.
        label_file: the list of ``<image path relative to images/> <label>`` lines
            (default ``root_folder/<split>.txt``).
        num_classes: labels must lie in ``0..num_classes-1``.
        split: ``"train"``, ``"val"`` or ``"test"`` (test lines may omit the label: -1).
        transforms: callable on an ``(H, W, 3)`` uint8 RGB array (see custom_transforms).
    """

    def __init__(self, root_folder, label_file=None, num_classes=100, split="train", transforms=None):
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        self.root = Path(root_folder)
        if not self.root.is_dir():
            raise UserError(f"data folder not found: {self.root} ({FETCH_HINT})")
        self.root_folder, self.split, self.transforms = root_folder, split, transforms
        self.num_classes = self.n_classes = num_classes
        label_file = self.label_file = Path(label_file) if label_file is not None else self.root / f"{split}.txt"
        self.entries = read_label_file(label_file, num_classes, labelled=split != "test")
        self._check_images(label_file)
        train_entries = self.entries if split == "train" else []
        self.classes = class_names_from(train_entries, num_classes)

    @property
    def file_label_list(self) -> list[tuple[str, int]]:
        """``(full image path, label)`` pairs, as the course's loader stores them."""
        return [(os.path.join(self.root_folder, "images", rel), label) for rel, label in self.entries]

    def get_index_mapping(self) -> dict[str, str]:
        """Label (as a string) -> category name, from the ``train/<letter>/<name>/...`` paths of this split."""
        return {str(label): Path(rel).parts[-2] for rel, label in self.entries if len(Path(rel).parts) >= 2}

    def _check_images(self, label_file: Path) -> None:
        images = self.root / "images"
        missing = [(i, rel) for i, (rel, _) in enumerate(self.entries) if not (images / rel).is_file()]
        if missing:
            index, rel = missing[0]
            raise UserError(f"{len(missing)} image(s) listed in {label_file} are missing, first {images / rel} "
                            f"(line {index + 1}); re-extract data.tar.gz into {images} ({FETCH_HINT})")

    def __len__(self) -> int:
        return len(self.entries)

    def load_image(self, index: int) -> np.ndarray:
        """The image as an ``(H, W, 3)`` uint8 RGB array (OpenCV reads BGR).

        A truncated image stops the run with one line that counts all of them (see ``truncated_error``):
        libjpeg would only print a warning and return the image with its missing part grey.
        """
        images = self.root / "images"
        path = images / self.entries[index][0]
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as err:
            raise UserError(f"cannot read image {path}: {err.strerror or err}; re-extract data.tar.gz") from None
        if is_truncated(data):  # the bytes are in memory anyway: this check costs nothing on a valid image
            bad = [i for i, (rel, _) in enumerate(self.entries) if self._ends_early(images / rel)]
            raise truncated_error(self.label_file, images, self.entries, bad or [index])
        return cv2.cvtColor(decode_image(data, path), cv2.COLOR_BGR2RGB)

    @staticmethod
    def _ends_early(path: Path) -> bool:
        try:
            return ends_early(path)
        except OSError:  # gone or unreadable: not counted as truncated
            return False

    def __getitem__(self, index: int):
        img = self.load_image(index)
        if self.transforms is not None:
            img = self.transforms(img)
        return img, self.entries[index][1]
