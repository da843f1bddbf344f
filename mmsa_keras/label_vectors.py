"""Label vectors for paper 003's embedding classifiers.

The paper uses the 50-d GloVe (Wikipedia 2014 + Gigaword 5) vectors of the
label words. `load_glove_label_vectors(path, class_names)` reads them from a
GloVe text file when the user has one; otherwise `default_label_vectors` gives
a fixed, documented stand-in: orthonormal vectors (QR of a seeded Gaussian
matrix, seed 0), so that every pair of labels has cosine similarity 0. Reports
state which of the two was used.
"""

from __future__ import annotations

import numpy as np

DEFAULT_SOURCE = "orthonormal (QR of a seed-0 Gaussian matrix; not GloVe)"


def default_label_vectors(num_classes: int, dim: int = 50, seed: int = 0) -> np.ndarray:
    """`[num_classes, dim]` orthonormal rows, the same for the same arguments."""
    if num_classes > dim:
        raise ValueError(f"cannot make {num_classes} orthonormal vectors in {dim} dimensions")
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, num_classes)))
    return q.T.astype("float32")


def load_glove_label_vectors(path: str, class_names) -> np.ndarray:
    """Vectors of the class-name words from a GloVe text file (`word v1 v2 ...`)."""
    wanted = {name.lower(): i for i, name in enumerate(class_names)}
    found: dict[int, np.ndarray] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            word, _, rest = line.partition(" ")
            if word in wanted and wanted[word] not in found:
                try:
                    found[wanted[word]] = np.array(rest.split(), dtype="float32")
                except ValueError as e:
                    raise ValueError(f"{path}:{lineno}: bad vector for {word!r}: {e}") from e
            if len(found) == len(wanted):
                break
    missing = [name for name, i in wanted.items() if i not in found]
    if missing:
        raise ValueError(f"{path}: no vector for label word(s) {missing}")
    return np.stack([found[i] for i in range(len(class_names))])
