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


def glove_embedding_matrix(path: str, vocabulary: list[str], dim: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """A `[len(vocabulary) + 2, dim]` embedding matrix from a GloVe text file, and how many words it covered.

    Row 0 is padding (zeros), row 1 the out-of-vocabulary token, then one row
    per vocabulary word (the `VocabularyTokenizer` order). Words the file lacks
    keep a small seeded uniform initialisation, as Keras would give them.
    Paper 004 initialises its word embeddings with GloVe-Twitter 200-d vectors.
    """
    index = {w: i + 2 for i, w in enumerate(vocabulary)}
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-0.05, 0.05, size=(len(vocabulary) + 2, dim)).astype("float32")
    matrix[0] = 0.0
    covered = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            word, _, rest = line.rstrip("\n").partition(" ")
            row = index.get(word)
            if row is None:
                continue
            values = rest.split()
            if len(values) != dim:
                raise ValueError(f"{path}:{lineno}: {len(values)} values for {word!r}, the embedding has {dim}")
            matrix[row] = np.asarray(values, dtype="float32")
            covered += 1
    return matrix, covered
