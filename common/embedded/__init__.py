"""Offline data that ships with the libraries we install, always labelled as what it is.

* :mod:`.digits`  - scikit-learn's 1,797 real handwritten digits served as MNIST (1x28x28).
* :mod:`.toy_scenes` - procedurally generated, learnable colour scenes (MiniPlaces or CIFAR format).
* :mod:`.samples` - sample photos (matplotlib, scikit-learn) and English text (CPython's pydoc_data).

Numbers computed on these are never presented as numbers on the real datasets.
"""
