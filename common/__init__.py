"""Shared engine for the four assignments: device/precision, training loop, checkpoints,
run directories, PGD/FGSM, plotting, DDP helpers and embedded offline data.

Importing ``common`` needs no GPU and does no work; nothing is seeded at import time.
"""
