import os

import numpy as np
import pytest

from data_pipelines.stored_arrays import NpyWriter, StoredColumn


@pytest.mark.parametrize("dtype,shape", [(np.uint8, (37, 4, 4, 3)), (np.float16, (37, 7, 5)), (np.float32, (37, 3))])
def test_written_by_blocks_and_read_by_rows_equals_numpy(tmp_path, dtype, shape):
    full = (np.random.default_rng(0).normal(size=shape) * 50).astype(dtype)
    path = str(tmp_path / "x.npy")
    with NpyWriter(path, shape, dtype) as out:
        for start in range(0, shape[0], 10):
            out.append(full[start : start + 10])
    np.testing.assert_array_equal(np.load(path), full)  # a plain .npy file
    column = StoredColumn(path)
    assert column.shape == shape and column.dtype == np.dtype(dtype) and len(column) == shape[0]
    for rows in ([36, 0, 5, 5, 6, 7, 1], slice(3, 30, 4), np.arange(shape[0])[::-1], []):
        np.testing.assert_array_equal(column[rows], full[rows])
    np.testing.assert_array_equal(np.asarray(column), full)
    with pytest.raises(IndexError):
        column[[shape[0]]]
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_a_short_or_failed_write_leaves_nothing_behind(tmp_path):
    path = tmp_path / "x.npy"
    with pytest.raises(ValueError, match="3 rows written, 5 announced"):
        with NpyWriter(str(path), (5, 2), np.float32) as out:
            out.append(np.zeros((3, 2)))
    with pytest.raises(RuntimeError):
        with NpyWriter(str(path), (5, 2), np.float32) as out:
            out.append(np.zeros((5, 2)))
            raise RuntimeError("interrupted")
    assert not path.exists() and not os.listdir(tmp_path)
    writer = NpyWriter(str(path), (5, 2), np.float32)
    with pytest.raises(ValueError, match="rows of shape"):
        writer.append(np.zeros((1, 3)))
    writer.abort()
    assert not os.listdir(tmp_path)
