"""Smoothed unigram and bigram baselines: the perplexities a language model has to beat.

* unigram: add-one (Laplace) smoothing over the vocabulary.
* bigram: interpolated, ``P(w | v) = lam * c(v, w) / c(v) + (1 - lam) * P_uni(w)``;
  ``lam`` is chosen on the last 10% of the *training* tokens (counts from the first
  90%), then the counts are refitted on all training tokens.  The validation set is
  never used to tune it.

Both are evaluated on exactly the token ids the neural model sees (same vocabulary,
same <unk> mapping), as the exponential of the mean negative log-likelihood.
"""
from __future__ import annotations

import math

import torch

LAMBDAS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def unigram_probs(train: torch.Tensor, vocab_size: int, k: float = 1.0) -> torch.Tensor:
    """(V,) add-k smoothed unigram distribution."""
    counts = torch.bincount(train, minlength=vocab_size).double() + k
    return counts / counts.sum()


def unigram_perplexity(train: torch.Tensor, valid: torch.Tensor, vocab_size: int) -> float:
    probs = unigram_probs(train, vocab_size)
    return math.exp(float(-probs[valid].log().mean()))


class BigramCounts:
    """Sparse bigram counts: sorted keys ``v * V + w`` with their counts."""

    def __init__(self, train: torch.Tensor, vocab_size: int):
        self.vocab_size = vocab_size
        keys = train[:-1] * vocab_size + train[1:]
        self.keys, self.counts = torch.unique(keys, return_counts=True)  # sorted keys
        self.context = torch.bincount(train[:-1], minlength=vocab_size).double()  # c(v)
        self.unigram = unigram_probs(train, vocab_size)

    def pair_counts(self, prev: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        """c(prev, nxt) for each position (0 for unseen pairs)."""
        query = prev * self.vocab_size + nxt
        pos = torch.searchsorted(self.keys, query).clamp(max=len(self.keys) - 1)
        return torch.where(self.keys[pos] == query, self.counts[pos], 0).double()

    def perplexity(self, ids: torch.Tensor, lam: float) -> float:
        """Perplexity of ids[1:] given their predecessors (interpolated with the unigram)."""
        prev, nxt = ids[:-1], ids[1:]
        ctx = self.context[prev]
        bigram = self.pair_counts(prev, nxt) / ctx.clamp(min=1)
        weight = torch.where(ctx > 0, lam, 0.0)  # unseen context: back off to the unigram entirely
        probs = weight * bigram + (1 - weight) * self.unigram[nxt]
        return math.exp(float(-probs.log().mean()))


def bigram_perplexity(train: torch.Tensor, valid: torch.Tensor, vocab_size: int) -> tuple[float, float]:
    """(validation perplexity, chosen lambda) of the interpolated bigram."""
    cut = int(len(train) * 0.9)
    tuning = BigramCounts(train[:cut], vocab_size)
    lam = min(LAMBDAS, key=lambda value: tuning.perplexity(train[cut:], value))
    return BigramCounts(train, vocab_size).perplexity(valid, lam), lam


def baselines(train: torch.Tensor, valid: torch.Tensor, vocab_size: int) -> dict[str, float]:
    """Flat metrics: unigram_ppl, bigram_ppl, bigram_lambda."""
    bigram, lam = bigram_perplexity(train, valid, vocab_size)
    return {"unigram_ppl": unigram_perplexity(train, valid, vocab_size), "bigram_ppl": bigram,
            "bigram_lambda": lam}
