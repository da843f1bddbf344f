"""Arrays stored as `.npy` files, read by rows with positioned reads (the feature store, the image cache).

A memory map of a file that a run reads again and again (every epoch, every row
of a table) ends up wholly in that process's resident memory. `StoredColumn`
reads only the rows asked for, with `os.pread`, into fresh arrays: the process
holds the batches it is using, and the file's pages stay in the kernel's page
cache, shared by every process and dropped first under memory pressure.
"""

from __future__ import annotations

import os

import numpy as np


class StoredColumn:
    """One stored output (`NAME.npy`, shape [N, ...]) read by rows with `os.pread`, never mapped or loaded.

    `column[rows]` (an int array or a slice) reads just those rows (runs of consecutive rows in one
    read) and returns them in the order asked; `np.asarray(column)` reads everything. Safe to call
    from several `tf.data` threads at once (positioned reads share no file offset).
    """

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            self.offset = f.tell()
        if fortran:
            raise ValueError(f"{path}: stored in Fortran order; extract the features again")
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._fd = None

    def __len__(self) -> int:
        return self.shape[0]

    def _descriptor(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        return self._fd

    def __del__(self):
        if getattr(self, "_fd", None) is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(len(self)))
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"{self.path}: rows out of range 0..{len(self) - 1}")
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        if not rows.size or not self.row_bytes:
            return out
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        flat = out.reshape(len(rows), -1).view(np.uint8).reshape(len(rows), self.row_bytes)
        fd = self._descriptor()
        start = 0
        while start < len(ordered):  # one read per run of consecutive (or repeated) rows
            end = start + 1
            while end < len(ordered) and ordered[end] - ordered[end - 1] <= 1:
                end += 1
            first, last = int(ordered[start]), int(ordered[end - 1])
            size = (last - first + 1) * self.row_bytes
            data = os.pread(fd, size, self.offset + first * self.row_bytes)
            if len(data) != size:
                raise OSError(f"{self.path}: truncated (wanted {size} bytes at row {first}, got {len(data)})")
            block = np.frombuffer(data, np.uint8).reshape(last - first + 1, self.row_bytes)
            flat[order[start:end]] = block[ordered[start:end] - first]
            start = end
        return out

    def __array__(self, dtype=None, copy=None):
        array = self[:]
        return array if dtype is None else array.astype(dtype)


class NpyWriter:
    """Write an `[N, ...]` `.npy` file row block by row block, with plain writes (no memory map, so the
    rows written do not stay in the writer's resident memory), to `path` atomically on `close()`.

    Example:
        with NpyWriter(path, shape=(n, 224, 224, 3), dtype=np.uint8) as out:
            for batch in batches:
                out.append(batch)
    """

    def __init__(self, path: str, shape: tuple, dtype, tmp: str | None = None):
        self.path, self.shape, self.dtype = path, tuple(int(x) for x in shape), np.dtype(dtype)
        self.tmp = tmp or os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.{os.getpid()}.tmp")
        self._file = open(self.tmp, "wb")
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
        np.lib.format.write_array_header_1_0(self._file, header)  # padded so the rows start 64-byte aligned
        self.rows = 0

    def append(self, block) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if tuple(block.shape[1:]) != self.shape[1:]:
            raise ValueError(f"{self.path}: rows of shape {block.shape[1:]}, expected {self.shape[1:]}")
        if self.rows + len(block) > self.shape[0]:
            raise ValueError(f"{self.path}: more than the {self.shape[0]} rows announced")
        self._file.write(block.tobytes())
        self.rows += len(block)

    def close(self) -> None:
        """Check that every announced row was written, then move the file into place."""
        self._file.close()
        if self.rows != self.shape[0]:
            os.remove(self.tmp)
            raise ValueError(f"{self.path}: {self.rows} rows written, {self.shape[0]} announced")
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._file.close()
        if os.path.exists(self.tmp):
            os.remove(self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.close()
        else:
            self.abort()
