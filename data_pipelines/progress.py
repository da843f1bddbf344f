"""Progress for scans and extraction: a bar on a terminal, plain lines in a log file.

On a terminal the bar redraws in place (`\\r`); when the stream is not a
terminal (a log file, CI, a pipe), progress is written as whole lines, at most
one per 10% (and at the end), so logs stay readable.
"""

from __future__ import annotations

import sys
import time


def is_terminal(stream=None) -> bool:
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """`Progress(total, "Checking images", unit="image")`, then `add(n)` and `close()`."""

    def __init__(self, total: int | None, title: str, unit: str = "item", stream=None):
        self.total = total
        self.title = title
        self.unit = unit
        self.units = unit + ("es" if unit.endswith(("ch", "sh", "s", "x")) else "s")
        self.stream = stream or sys.stdout
        self.tty = is_terminal(self.stream)
        self.count = 0
        self.start = time.time()
        self._last_draw = 0.0
        self._last_decile = -1
        self._closed = False
        if not self.tty:
            self._line(f"{self.title}: {self._amount()}")
            self._last_decile = 0

    def _amount(self) -> str:
        if self.total:
            return f"{self.count:,}/{self.total:,} {self.units} ({100 * self.count / self.total:.0f}%)"
        return f"{self.count:,} {self.units}"

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def add(self, n: int = 1) -> None:
        self.count += n
        if self.tty:
            now = time.time()
            if now - self._last_draw > 0.1 or (self.total and self.count >= self.total):
                self._draw()
                self._last_draw = now
        elif self.total:
            decile = int(10 * self.count / self.total)
            if decile > self._last_decile and self.count < self.total:
                self._last_decile = decile
                self._line(f"{self.title}: {self._amount()}")

    def _draw(self) -> None:
        rate = self.count / max(time.time() - self.start, 1e-9)
        if self.total:
            done = int(30 * self.count / self.total)
            bar = "[" + "=" * done + "." * (30 - done) + "] "
        else:
            bar = ""
        self.stream.write(f"\r{self.title}: {bar}{self._amount()} {rate:.1f} {self.units}/s ")
        self.stream.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        seconds = time.time() - self.start
        if self.tty:
            self._draw()
            self.stream.write(f"{seconds:.1f}s\n")
            self.stream.flush()
        else:
            self._line(f"{self.title}: {self._amount()} in {seconds:.1f}s")
