"""JSON and text files written whole or not at all (a temporary file, then `os.replace`), and read back
with one clear error naming a damaged file."""

from __future__ import annotations

import json
import os

from mmsa_keras.errors import RunError


def write_json(path: str, obj) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, default=str)
    os.replace(tmp, path)


def write_text(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def read_json(path: str):
    """A JSON file of a run; a truncated or damaged one raises `RunError` naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise RunError(f"{path}: not valid JSON ({type(e).__name__}: {e}); the file is damaged or cut short") from None
