"""Checks that a result comes from a trained model: a linear probe of the codes, a plateau measure.

The linear probe (multinomial logistic regression on the frozen codes, scikit-learn) asks
how linearly separable the classes are in a latent space, independently of how well the
MLP head happened to be trained; ``plateau_gain`` says whether a stage's validation
accuracy was still rising when training stopped.
"""
from __future__ import annotations

import warnings

import torch

from common.results import plateau_gain  # noqa: F401 (re-exported: the convergence check lives in common)

PROBE_C = (0.01, 0.1, 1.0, 10.0)  # inverse L2 strengths tried; the best on validation is kept


def linear_probe(codes: dict[str, tuple[torch.Tensor, torch.Tensor]], Cs=PROBE_C, seed: int = 0) -> dict:
    """Logistic regression on standardised codes, C chosen on val; top-1 accuracy (%) per split.

    ``codes`` maps "train"/"val"/"test" to (codes (N, L), labels (N,)).  Returns
    ``probe_{train,val,test}_acc1`` and ``probe_C``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    data = {s: (z.detach().float().cpu().numpy(), y.cpu().numpy()) for s, (z, y) in codes.items()}
    scaler = StandardScaler().fit(data["train"][0])
    data = {s: (scaler.transform(z), y) for s, (z, y) in data.items()}
    best = None
    for c in Cs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LogisticRegression(C=c, max_iter=1000, random_state=seed).fit(*data["train"])
        val = model.score(*data["val"])
        if best is None or val > best[0]:  # ties keep the stronger regularisation (smaller C, tried first)
            best = (val, c, model)
    _, c, model = best
    return {**{f"probe_{s}_acc1": 100.0 * model.score(*data[s]) for s in ("train", "val", "test")}, "probe_C": c}
