"""Counting and reporting bad input without stopping a long run.

Every reader and the image scan record what they skipped or repaired in a
`DataReport`: each event names the file (and line for label files), is logged
once when it happens (up to `max_messages` per kind), and is counted in the
summary printed at the end of a run and saved beside it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import defaultdict
from typing import Any

logger = logging.getLogger("mmsa")

#: Kinds of event, with the words the summary uses for them.
KINDS = {
    "missing_image": "image file missing",
    "empty_image": "zero-byte image file",
    "undecodable_image": "image could not be decoded (treated as missing)",
    "missing_text": "text file missing",
    "oversized_image": "image too large (refused before decoding; treated as missing)",
    "not_a_file": "path is a folder, FIFO or device, not a file (skipped)",
    "outside_path": "path leaves the dataset folder (refused)",
    "caption_truncated": "caption longer than 1 MB (cut)",
    "no_label": "row without a label (skipped)",
    "empty_text": "empty caption",
    "encoding_fallback": "caption not UTF-8 (decoded with a fall-back encoding)",
    "bad_row": "label row with a wrong number of fields (skipped)",
    "unclosed_quote": "a quote that never closes (row skipped; reading resumed on the next line)",
    "oversized_field": "a field over 16 MB (row skipped)",
    "unknown_label": "unknown label (row skipped)",
    "duplicate_id": "duplicate post id (later row skipped)",
    "dropped_row": "row dropped",
    "json_text_differs": "split JSON text differs from the caption file (the file's caption used)",
}


class DataReport:
    """Collects bad-input events: kind, file, optional line and a message.

    Args:
        max_messages: how many events of each kind are printed as they happen;
            the rest are only counted.
        stream: where messages go (default: the "mmsa" logger's stderr).
    """

    def __init__(self, max_messages: int = 10, stream=None):
        self.max_messages = max_messages
        self.stream = stream
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        #: kinds counted but not printed one by one (e.g. the synthetic set's designed-in gaps)
        self.quiet: set[str] = set()

    def add(self, kind: str, file: str, message: str = "", line: int | None = None) -> None:
        where = f"{file}:{line}" if line is not None else str(file)
        event = {"file": str(file), "line": line, "message": message}
        self.events[kind].append(event)
        n = len(self.events[kind])
        if self.max_messages <= 0 or kind in self.quiet:
            return
        if n <= self.max_messages:
            text = f"[mmsa] {where}: {KINDS.get(kind, kind)}" + (f": {message}" if message else "")
            print(text, file=self.stream or sys.stderr)
        elif n == self.max_messages + 1:
            print(
                f"[mmsa] further '{kind}' events are counted but not printed",
                file=self.stream or sys.stderr,
            )

    def count(self, kind: str) -> int:
        return len(self.events.get(kind, []))

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.events.items() if v}

    def merge(self, other: DataReport) -> None:
        for kind, events in other.events.items():
            self.events[kind].extend(events)

    def __bool__(self) -> bool:
        return any(self.events.values())

    def summary(self) -> str:
        if not self:
            return "data report: no bad input found"
        lines = ["data report (bad input skipped or repaired; the run went on):"]
        for kind, events in sorted(self.events.items()):
            if events:
                example = events[0]
                where = example["file"] + (f":{example['line']}" if example["line"] else "")
                lines.append(f"  {len(events):6d}  {KINDS.get(kind, kind)}  (first: {where})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "events": {k: v for k, v in self.events.items() if v}}

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2)
