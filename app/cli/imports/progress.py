"""A progress bar on stderr (one line per chunk when stderr is not a terminal)."""

from __future__ import annotations

import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO, total: int, chunks: int, label: str) -> None:
        self.stream, self.total, self.chunks, self.label = stream, total, chunks, label
        self.done = self.chunk = 0
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.started = time.monotonic()
        self.open = False

    def advance(self, rows: int) -> None:
        self.done += rows
        self.chunk += 1
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        text = f"{self.label}: {self.done}/{self.total} rows, chunk {self.chunk}/{self.chunks}, {rate:,.0f} rows/s"
        if self.tty:
            width = 30
            filled = int(width * self.done / self.total) if self.total else width
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}\x1b[K")
            self.open = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False
