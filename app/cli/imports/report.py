"""What the run tells its user: the summary table, and every rejected row at the file's own line."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

from app.cli.imports.files import EXIT_AUTH, EXIT_INPUT, EXIT_REJECTED, Chunk, Source, Stop
from app.cli.imports.http import detail


@dataclass
class ChunkResult:
    chunk: Chunk
    status: str
    created: int
    updated: int
    unchanged: int
    replayed: bool


@dataclass
class Report:
    source: Source
    dry_run: bool = False
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    results: list[ChunkResult] = field(default_factory=list)

    def committed(self, chunk: Chunk, body: dict, replayed: bool) -> None:
        self.results.append(
            ChunkResult(
                chunk,
                body.get("status", "?"),
                body.get("created", 0),
                body.get("updated", 0),
                body.get("unchanged", 0),
                replayed,
            )
        )

    def where(self, chunk: Chunk, row: Any) -> str:
        """A server row of a chunk as the file's place: its line (CSV and XLSX alike) or JSON item."""
        source = self.source
        if row == 0:
            return f"line {source.header_line}"
        if isinstance(row, int) and 1 <= row <= len(chunk.places):
            return f"{source.unit} {chunk.places[row - 1]}"
        return f"{source.unit} ? (server row {row})"

    def rejection(self, chunk: Chunk, body: dict, replayed: bool) -> None:
        source = self.source
        first, last = chunk.places[0], chunk.places[-1]
        lines = [
            f"error: chunk {chunk.number}/{len(source.chunks)} ({source.unit}s {first}-{last} of {source.path.name}) "
            f"was rejected; none of its rows was written:"
        ]
        for e in body.get("errors") or []:
            lines.append(f"  {self.where(chunk, e.get('row'))}, {e.get('field') or '(row)'}: {e.get('message')}")
        if replayed:
            lines.append(
                "  (this answer is the server's replay of an earlier identical request; if you fixed something on "
                "the server rather than in the file, run again with --new-keys)"
            )
        self.err.write("\n".join(lines) + "\n")

    def committed_note(self) -> str:
        if not self.results:
            return "Nothing was written.\n"
        rows = sum(len(r.chunk.places) for r in self.results)
        one = len(self.results) == 1
        done = (
            "Chunk 1 (%d rows) was committed and stays"
            if one
            else f"Chunks 1-{len(self.results)} (%d rows) were committed and stay"
        )
        return (
            (done % rows) + " committed (each chunk is atomic on its own, the file is not). Fix what is said above "
            "and run the same command again: rows with an external_ref match their records and are updated or left "
            "unchanged; rows without one would be created again, so take the committed rows out of the file first.\n"
        )

    def refused(self, chunk: Chunk, r: httpx.Response, body: Any) -> None:
        """A chunk the server would not take as a whole (401, 403, 413, a problem): stop with its reason."""
        where = f"chunk {chunk.number}/{len(self.source.chunks)}"
        why = detail(r)
        extra = ""
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            extra = "".join(
                f"\n  {'.'.join(map(str, e.get('loc', [])))}: {e.get('msg')}"
                for e in body["errors"]
                if isinstance(e, dict)
            )
        self.summary()
        note = "\n" + self.committed_note().rstrip() if not self.dry_run else ""
        if r.status_code == 401:
            raise Stop(f"{where}: the server refused the token (401: {why}){note}", EXIT_AUTH)
        if r.status_code == 403:
            raise Stop(f"{where}: not allowed (403: {why}){note}", EXIT_AUTH)
        if r.status_code == 413:
            raise Stop(f"{where}: too large for the server (413: {why}); use a smaller --chunk-size{note}", EXIT_INPUT)
        raise Stop(f"{where}: the server answered {r.status_code}: {why}{extra}{note}", EXIT_REJECTED)

    def summary(self) -> None:
        if not self.results:
            return
        w = self.out.write
        unit = self.source.unit
        w(f"{'chunk':>7}  {unit + 's':>13}  {'status':<10} {'created':>8} {'updated':>8} {'unchanged':>9}  replayed\n")
        for r in self.results:
            span = f"{r.chunk.places[0]}-{r.chunk.places[-1]}"
            replayed = "yes" if r.replayed else "no"
            w(
                f"{r.chunk.number:>7}  {span:>13}  {r.status:<10} {r.created:>8} {r.updated:>8} {r.unchanged:>9}"
                f"  {replayed}\n"
            )
        total = [sum(getattr(r, k) for r in self.results) for k in ("created", "updated", "unchanged")]
        rows = sum(len(r.chunk.places) for r in self.results)
        w(f"{'total':>7}  {str(rows) + ' rows':>13}  {'':<10} {total[0]:>8} {total[1]:>8} {total[2]:>9}\n")
        if self.dry_run:
            w("dry run: nothing was written\n")
