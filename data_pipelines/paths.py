"""Paths built from dataset contents must stay inside the dataset folder.

A label file or CSV names posts and images; a hostile or careless one can name
`../../etc/passwd` or an absolute path. `safe_name` accepts only a plain file
name component; `resolve_inside` joins a relative path to its base folder and
refuses it when the result leaves that folder (lexically: `..` components or an
absolute path). Absolute paths are accepted only where the user allows them
(`--allow-outside-paths`).

The dataset root is also a wall for what the file system resolves: while a
dataset is read (`dataset_root(path)`, entered by `load_dataset` and the image
scan), every file is resolved with `os.path.realpath` before it is opened, and
one that lands outside the root's real path (a caption or image that is a
symlink to `/etc/passwd`, a `data/` folder linked elsewhere) is refused and
counted as `outside_path`, unless the user said `--allow-outside-paths`. The
root itself may be a symlink: its real path is the wall.
"""

from __future__ import annotations

import contextlib
import contextvars
import os

#: the real paths of the dataset being read (None: no wall, e.g. --allow-outside-paths)
_ROOTS: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar("dataset_roots", default=None)


def _real_root(path: str) -> str:
    path = os.path.abspath(path)
    return os.path.realpath(path if os.path.isdir(path) else os.path.dirname(path))


@contextlib.contextmanager
def dataset_root(path: str, allow_outside: bool = False, extra=()):
    """While inside, `outside_root` refuses files that resolve outside `path` (a folder, or a file's
    folder) and the `extra` folders the user named (e.g. an image folder option)."""
    roots = None if allow_outside else tuple(_real_root(p) for p in (path, *[e for e in extra if e]))
    token = _ROOTS.set(roots)
    try:
        yield
    finally:
        _ROOTS.reset(token)


def outside_root(path: str) -> bool:
    """True when a dataset is being read and `path` resolves (symlinks followed) outside its root."""
    roots = _ROOTS.get()
    if roots is None:
        return False
    real = os.path.realpath(path)
    return not any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def safe_name(name: str) -> bool:
    """True for a plain file-name component (no separator, no `..`, not absolute, no NUL)."""
    name = str(name)
    return (
        bool(name)
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
        and not os.path.isabs(name)
        and ":" not in name[:2]
    )


def resolve_inside(base: str, path: str, allow_outside: bool = False) -> str | None:
    """`path` (relative to `base`, or absolute) if it stays inside `base` or is allowed; else None."""
    path = str(path)
    if "\0" in path:
        return None
    if os.path.isabs(path):
        return os.path.normpath(path) if allow_outside else None
    joined = os.path.normpath(os.path.join(base, path))
    root = os.path.normpath(os.path.abspath(base))
    if allow_outside or os.path.abspath(joined) == root or os.path.abspath(joined).startswith(root + os.sep):
        return joined
    return None
