"""Write a learnable toy dataset in exactly the MiniPlaces layout (offline, seconds).

    python -m miniplaces.toy_data data/toy_miniplaces --classes 10 --train-per-class 100 --val-per-class 20

Images are procedurally generated scenes (``common.embedded.toy_scenes``): each class
is a shape + colour scheme, each image draws position, scale, brightness, a
distractor and noise.  The folder gets ``train.txt``/``val.txt``/``images/`` like the
real data plus ``TOY_DATA.txt``, whose first line every run copies into its
metrics.json ("data") so toy numbers are never mistaken for MiniPlaces numbers.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common.errors import UserError, cli_main
from common.io import atomic_write_text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("out_dir", help="folder to write (train.txt, val.txt, images/, TOY_DATA.txt)")
    parser.add_argument("--classes", type=int, default=10, help="number of classes")
    parser.add_argument("--train-per-class", type=int, default=100, help="training images per class")
    parser.add_argument("--val-per-class", type=int, default=20, help="validation images per class")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (real MiniPlaces: 128)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (same seed, same images)")
    return parser


if __name__ == "__main__":  # answer --help and reject bad flags before the heavy imports below
    build_parser().parse_args()

import cv2  # noqa: E402

from common.embedded.toy_scenes import LABEL, class_names, generate  # noqa: E402

from miniplaces.custom_dataloader import TOY_NOTE  # noqa: E402

TOY_LABEL = "toy MiniPlaces-format scenes " + LABEL[LABEL.index("("):]


def _folder_name(name: str) -> str:
    """'red disc #0' -> 'red_disc_0' (the real layout's category folder)."""
    return "".join(ch if ch.isalnum() else "_" for ch in name).replace("__", "_").strip("_")


def write_split(root: Path, split: str, num_classes: int, per_class: int, size: int, seed: int) -> int:
    """Render one split, write its JPEGs and its label file; returns the number of images."""
    images, labels = generate(num_classes, per_class, size, seed=seed, split=split)
    names = [_folder_name(n) for n in class_names(num_classes)]
    lines = []
    for i, (img, label) in enumerate(zip(images, labels), 1):
        if split == "train":
            rel = f"train/{names[label][0]}/{names[label]}/{i:08d}.jpg"
        else:
            rel = f"val/{i:08d}.jpg"
        path = root / "images" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise UserError(f"could not write {path} (disk full or not writable?)")
        lines.append(f"{rel} {int(label)}")
    atomic_write_text(root / f"{split}.txt", "\n".join(lines) + "\n")
    return len(lines)


def make_toy_miniplaces(root, classes: int = 10, train_per_class: int = 100, val_per_class: int = 20,
                        size: int = 128, seed: int = 0) -> Path:
    """Write the toy dataset under ``root`` (refuses to touch a folder holding real data)."""
    root = Path(root)
    if (root / "train.txt").exists() and not (root / TOY_NOTE).exists():
        raise UserError(f"{root} already holds a dataset that is not toy data; choose another OUT_DIR")
    if classes < 2 or train_per_class < 1 or val_per_class < 1 or size < 8:
        raise UserError("need --classes >= 2, --train-per-class >= 1, --val-per-class >= 1 and --size >= 8")
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / TOY_NOTE, f"{TOY_LABEL}\n\nWritten by `python -m miniplaces.toy_data` "
                      f"(classes={classes}, train_per_class={train_per_class}, val_per_class={val_per_class}, "
                      f"size={size}, seed={seed}).\nThis is NOT MiniPlaces; numbers on it say nothing about "
                      "MiniPlaces accuracy.\n")
    write_split(root, "train", classes, train_per_class, size, seed)
    write_split(root, "val", classes, val_per_class, size, seed)
    return root


@cli_main
def main(argv=None) -> Path:
    args = build_parser().parse_args(argv)
    root = make_toy_miniplaces(args.out_dir, args.classes, args.train_per_class, args.val_per_class,
                               args.size, args.seed)
    print(f"wrote {args.classes * (args.train_per_class + args.val_per_class)} toy images to {root} "
          f"({TOY_LABEL})")
    return root


if __name__ == "__main__":
    main()
