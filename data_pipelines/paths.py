"""Paths built from dataset contents must stay inside the dataset folder.

A label file or CSV names posts and images; a hostile or careless one can name
`../../etc/passwd` or an absolute path. `safe_name` accepts only a plain file
name component; `resolve_inside` joins a relative path to its base folder and
refuses it when the result leaves that folder (lexically: `..` components or an
absolute path; a symlinked data folder is fine). Absolute paths are accepted
only where the user allows them (`--allow-outside-paths` for the table format).
"""

from __future__ import annotations

import os


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
