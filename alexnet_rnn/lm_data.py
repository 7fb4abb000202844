"""Language-model data: tokens, a capped vocabulary with <unk>, train/validation split, BPTT windows.

Word level follows the PTB convention: whitespace tokens, one ``<eos>`` per line.  The
embedded English text (CPython's pydoc topics) is lower-cased and split into words
and punctuation first.  Char level uses every character (newlines included).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from common.embedded.samples import TEXT_LABEL, english_text
from common.errors import UserError, require_file

UNK, EOS = "<unk>", "<eos>"
_WORDS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")  # words (with 's, n't ...) or single symbols


def tokenize(text: str, level: str, pretokenized: bool) -> list[str]:
    """Tokens of ``text``; ``pretokenized`` (PTB) keeps its spacing and case as they are."""
    if level == "char":
        return list(text)
    if level != "word":
        raise ValueError(f"level must be 'word' or 'char', not {level!r}")
    tokens: list[str] = []
    for line in text.splitlines():
        words = line.split() if pretokenized else _WORDS.findall(line.lower())
        if words:
            tokens += words + [EOS]
    return tokens


@dataclass
class Vocab:
    """Index <-> token; index 0 is <unk>, which every out-of-vocabulary token maps to."""

    itos: list[str]

    def __post_init__(self):
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: list[str]) -> torch.Tensor:
        unk = self.stoi[UNK]
        return torch.tensor([self.stoi.get(t, unk) for t in tokens], dtype=torch.long)

    def decode(self, ids, level: str) -> str:
        words = [self.itos[i] for i in ids]
        if level == "char":
            return "".join(words)
        return " ".join(words).replace(f" {EOS} ", "\n").replace(EOS, "\n")

    def save(self, path: Path) -> None:
        from common.io import atomic_write_text

        atomic_write_text(path, json.dumps(self.itos, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> "Vocab":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))


def build_vocab(tokens: list[str], max_size: int) -> Vocab:
    """<unk> plus the ``max_size - 1`` most frequent tokens (ties broken alphabetically)."""
    counts = Counter(tokens)
    counts.pop(UNK, None)  # PTB already contains <unk>; it keeps index 0
    ranked = sorted(counts, key=lambda t: (-counts[t], t))[: max(0, max_size - 1)]
    return Vocab([UNK] + ranked)


@dataclass
class Corpus:
    train: torch.Tensor  # (N_train,) token ids
    valid: torch.Tensor  # (N_valid,) token ids
    vocab: Vocab
    label: str           # what the data is, for metrics.json and captions


def split_text(text: str, valid_fraction: float) -> tuple[str, str]:
    """Contiguous split: the last ``valid_fraction`` of the text (cut at a blank line) is validation."""
    cut = int(len(text) * (1 - valid_fraction))
    boundary = text.rfind("\n\n", 0, cut)
    cut = boundary if boundary > 0 else cut
    return text[:cut], text[cut:]


def load_corpus(data_dir: str | None, level: str, vocab_size: int, *, valid_fraction: float = 0.1,
                max_chars: int | None = None) -> Corpus:
    """PTB ``train.txt``/``valid.txt`` from ``data_dir``, else the embedded English text, split."""
    if data_dir:
        root = Path(data_dir)
        if not root.is_dir():
            raise UserError(f"data directory not found: {root} (it must hold PTB train.txt and valid.txt; "
                            "leave out --data to use the embedded English text)")
        hint = "PTB files, e.g. ptb.train.txt renamed to train.txt"
        for name in ("train.txt", "valid.txt"):
            require_file(root / name, f"{name} in --data", hint)
        try:
            train_text = (root / "train.txt").read_text(encoding="utf-8")
            valid_text = (root / "valid.txt").read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise UserError(f"--data {root}: train.txt/valid.txt are not UTF-8 text ({err.reason} at byte "
                            f"{err.start}); pass {hint}") from None
        label, pretok = f"PTB-format text from {root}", True
    else:
        text = english_text()[: max_chars or None]
        train_text, valid_text = split_text(text, valid_fraction)
        label = f"{TEXT_LABEL}; first {len(text)} chars, last {valid_fraction:.0%} as validation"
        pretok = False
    train_tokens = tokenize(train_text, level, pretok)
    vocab = build_vocab(train_tokens, vocab_size)
    return Corpus(vocab.encode(train_tokens), vocab.encode(tokenize(valid_text, level, pretok)), vocab, label)


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N,) -> (B, N // B): B contiguous streams, read left to right across windows."""
    per_stream = len(ids) // batch_size
    if per_stream < 2:
        raise UserError(f"{len(ids)} tokens are too few for batch size {batch_size}")
    return ids[: per_stream * batch_size].view(batch_size, per_stream)


class BPTTWindows:
    """Iterable of ``(inputs (B, T), targets (B, T), first)`` windows over batchified streams.

    ``first`` marks the window that starts an epoch: the step function resets its
    hidden state there and carries (detached) state across all later windows.  The
    engine's resume calls ``sampler.set_epoch(epoch, skip)``; this class is its own
    sampler and skips that many windows (the skipped windows' hidden state is lost).
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_length: int):
        self.streams = batchify(ids, batch_size)  # (B, L)
        self.seq_length = seq_length
        self.sampler = self
        self._skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self._skip = skip

    def __len__(self) -> int:
        return -(-(self.streams.shape[1] - 1) // self.seq_length)  # ceil: last window may be shorter

    def __iter__(self):
        skip, self._skip = self._skip, 0
        for k, start in enumerate(range(0, self.streams.shape[1] - 1, self.seq_length)):
            if k < skip:
                continue
            end = min(start + self.seq_length, self.streams.shape[1] - 1)
            yield self.streams[:, start:end], self.streams[:, start + 1:end + 1], k == skip
