"""Folders the project writes: created by it, or carrying its marker; never anyone else's.

Every command that writes (train, export, make-synthetic, features extract,
reproduce) writes into one output folder and calls `claim_output_dir(path, kind)`
first. The folder is accepted when it

* does not exist (it is created, with the marker),
* is empty (the marker is written into it),
* carries the marker `.mmsa.json` of the same kind (`run`, `export`,
  `synthetic`, `features`, `results`, `baseline`), or
* was written by an mmsa-keras version that predates the marker and holds that
  kind's own signature file (a run's `run_config.json`, an export's
  `saved_model.pb` + `labels.json`, a synthetic set's README); the marker is
  added.

Anything else that is not empty is refused with one line naming the folder and
the way out: `--force` never widens this, it only lets a command remove what
the project itself wrote inside its own folder. `check_not_enclosing` refuses an
output folder that is the working directory, or that encloses a folder the
command reads (an export written over its own run).
"""

from __future__ import annotations

import json
import os
import time

MARKER = ".mmsa.json"
KINDS = ("run", "export", "synthetic", "features", "results", "baseline", "explanations")

#: files that identify a folder written before markers existed
_LEGACY_SIGNATURES = {
    "run": (("run_config.json",),),
    "export": (("saved_model.pb", "labels.json"),),
    "synthetic": (("train.txt", "README.txt"),),
    "results": (("report.md", "config.json"),),
    "baseline": (("baseline_config.json",),),
}


class OutputDirError(ValueError):
    """An output folder the project may not write into (a usage error: exit 2)."""

    exit_code = 2


def marker_kind(path: str) -> str | None:
    """The kind recorded in `path`'s marker, or None (no marker, or an unreadable one)."""
    try:
        with open(os.path.join(path, MARKER), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    kind = record.get("kind") if isinstance(record, dict) else None
    return kind if kind in KINDS else None


def _legacy(path: str, kind: str) -> bool:
    if kind == "features":  # a store: only `<modality>-<encoder>-<key>/` sets, each with its manifest
        entries = os.listdir(path)
        return bool(entries) and all(
            e.split("-", 1)[0] in ("text", "image") and os.path.isfile(os.path.join(path, e, "manifest.json"))
            for e in entries
        )
    for files in _LEGACY_SIGNATURES.get(kind, ()):
        if all(os.path.isfile(os.path.join(path, f)) for f in files):
            if kind == "synthetic":
                try:
                    with open(os.path.join(path, "README.txt"), encoding="utf-8") as f:
                        return f.read(64).startswith("mmsa-keras synthetic dataset")
                except (OSError, UnicodeDecodeError):
                    return False
            return True
    return False


def write_marker(path: str, kind: str) -> None:
    record = {"kind": kind, "written_by": "mmsa-keras", "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    tmp = os.path.join(path, f"{MARKER}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f)
    os.replace(tmp, os.path.join(path, MARKER))


def is_owned(path: str, kind: str) -> bool:
    """True when `path` is a folder of this kind written by the project (marker or legacy signature)."""
    return os.path.isdir(path) and (marker_kind(path) == kind or (marker_kind(path) is None and _legacy(path, kind)))


def claim_output_dir(path: str, kind: str, flag: str = "--out") -> str:
    """Make `path` an output folder of `kind` (see the module docstring); returns it. Raises `OutputDirError`."""
    if kind not in KINDS:
        raise ValueError(f"unknown output kind {kind!r}")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise OutputDirError(f"{flag} {path} is a file, not a folder; choose a folder")
    if not os.path.exists(path):
        os.makedirs(path, exist_ok=True)
        write_marker(path, kind)
        return path
    found = marker_kind(path)
    if found == kind:
        return path
    if found is not None:
        raise OutputDirError(
            f"{flag} {path} holds an mmsa {found}, not a {kind}; choose another folder (nothing was written)"
        )
    entries = [e for e in os.listdir(path) if e != MARKER]
    if not entries or _legacy(path, kind):
        write_marker(path, kind)
        return path
    raise OutputDirError(
        f"{flag} {path} is not empty and was not written by mmsa (no {MARKER} marker; it holds "
        f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, e.g. {sorted(entries)[0]!r}); "
        "mmsa writes only into a new or empty folder or one of its own: choose another folder"
    )


def _inside(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def check_not_enclosing(path: str, protected: dict[str, str], flag: str = "out") -> None:
    """Refuse an output `path` that is the working directory, encloses it, or equals/encloses a
    `protected` folder (`{description: folder}`, e.g. the run being exported)."""
    target = os.path.realpath(path)
    cwd = os.path.realpath(os.getcwd())
    if _inside(cwd, target):
        raise OutputDirError(
            f"{flag} {path} is the current folder or one of its parents; mmsa will not replace it: "
            "name a new folder, e.g. ./export"
        )
    for what, folder in protected.items():
        if _inside(os.path.realpath(folder), target):
            example = os.path.join(folder, "export")
            raise OutputDirError(f"{flag} {path} is {what} or one of its parents; name a new folder (e.g. {example})")
