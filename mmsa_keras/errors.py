"""Errors the `mmsa` command reports in one line (no traceback unless --debug)."""

from __future__ import annotations


class MMSAError(Exception):
    """A problem the user can fix; `exit_code` is what `mmsa` exits with."""

    exit_code = 1


class UsageError(MMSAError, ValueError):
    """A wrong name, flag or combination of settings (exit 2)."""

    exit_code = 2


class DataError(MMSAError, ValueError):
    """The data cannot be used as asked (exit 1)."""

    exit_code = 1


class RunError(MMSAError):
    """A run directory is missing, locked, incomplete or from another config (exit 1)."""

    exit_code = 1
