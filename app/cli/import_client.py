"""`python -m app import`: send a CSV, XLSX or JSON file to a server's import endpoint in chunks.

Each chunk is one request, so each chunk is atomic on the server and the file as a whole is not: a chunk
rejected for bad rows stops the run, and the chunks before it stay committed. Every chunk carries an
`Idempotency-Key` made from the file's SHA-256 and the chunk's place, so running the same command again
after a crash replays what the server already committed instead of writing it twice.

CSV and XLSX rows are sent as CSV text under the file's own header, so the server reads every cell exactly
as its CSV path does (empty cell: absent; list columns: JSON in the cell). JSON rows are sent as JSON.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import random
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as time_of_day
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
import orjson

DEFAULT_CHUNK = 5_000
MAX_CHUNK = 50_000  # the server's limit per request
EXIT_OK, EXIT_REJECTED, EXIT_INPUT, EXIT_AUTH, EXIT_GAVE_UP = 0, 1, 2, 3, 4
RETRY_STATUSES = {409, 429, 500, 502, 503, 504}  # 409: the same key is still running on the server


class Stop(Exception):
    """Ends the run with a message and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# -- reading the file --------------------------------------------------------------------------------------


@dataclass
class Chunk:
    number: int  # 1-based
    body: bytes
    content_type: str
    places: list[int]  # where each row of the chunk is in the file (CSV line, sheet row, JSON index)


@dataclass
class Source:
    path: Path
    kind: str  # "csv" | "xlsx" | "json"
    digest: str
    rows: int
    chunks: list[Chunk]

    @property
    def unit(self) -> str:
        return {"csv": "line", "xlsx": "row", "json": "item"}[self.kind]


def _kind(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix == ".json":
        return "json"
    if data[:2] == b"PK":
        return "xlsx"
    return "json" if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[") else "csv"


def _csv_chunks(header: list[str], records: list[tuple[int, list[str]]], size: int) -> list[Chunk]:
    chunks = []
    for start in range(0, len(records), size):
        part = records[start : start + size]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(values for _, values in part)
        chunks.append(
            Chunk(len(chunks) + 1, buf.getvalue().encode("utf-8"), "text/csv; charset=utf-8", [p for p, _ in part])
        )
    return chunks


def _read_csv(data: bytes, size: int) -> tuple[int, list[Chunk]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Stop(f"the file is not UTF-8 (byte {exc.start}); save it as 'CSV UTF-8'", EXIT_INPUT) from None
    if "\x00" in text:
        raise Stop("the file contains NUL bytes: it is not a CSV text file", EXIT_INPUT)
    reader = csv.reader(io.StringIO(text))
    records: list[tuple[int, list[str]]] = []
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise Stop("the file has no header row (line 1 must name the columns)", EXIT_INPUT)
        while True:
            first_line = reader.line_num + 1  # a quoted cell may span several physical lines
            values = next(reader, None)
            if values is None:
                break
            if any(v != "" for v in values):
                records.append((first_line, values))
    except csv.Error as exc:
        raise Stop(f"line {reader.line_num}: the CSV is malformed: {exc}", EXIT_INPUT) from None
    return len(records), _csv_chunks(header, records, size)


def _cell_text(value: Any) -> str:
    """An XLSX cell as the text a CSV export of the sheet would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == time_of_day.min and value.tzinfo is None else value.isoformat()
        )
    if isinstance(value, date | time_of_day):
        return value.isoformat()
    return str(value)


def _read_xlsx(data: bytes, size: int) -> tuple[int, list[Chunk]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:
        raise Stop("the file is not a readable .xlsx workbook", EXIT_INPUT) from None
    try:
        sheet = wb.worksheets[0].iter_rows(values_only=True)
        first = next(sheet, None)
        header = [_cell_text(h) for h in first or ()]
        if not any(h.strip() for h in header):
            raise Stop("the first sheet has no header row (row 1 must name the columns)", EXIT_INPUT)
        names = [h.strip() for h in header]
        records: list[tuple[int, list[str]]] = []
        formulas: list[str] = []
        for row_number, cells in enumerate(sheet, start=2):
            values = [_cell_text(v) for v in cells]
            if not any(v != "" for v in values):
                continue
            for name, cell in zip(names, cells, strict=False):
                if name and isinstance(cell, str) and cell.startswith("="):
                    formulas.append(f"  row {row_number}, {name}: formulas are not accepted; paste the values")
            records.append((row_number, values))
    finally:
        wb.close()
    if formulas:
        raise Stop("the sheet holds formulas; nothing was sent:\n" + "\n".join(formulas), EXIT_REJECTED)
    return len(records), _csv_chunks(header, records, size)


def _read_json(data: bytes, size: int) -> tuple[int, list[Chunk]]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Stop(f"the file is not valid JSON: {exc}", EXIT_INPUT) from None
    if isinstance(doc, dict) and set(doc) == {"rows"} and isinstance(doc["rows"], list):
        rows = doc["rows"]
    elif isinstance(doc, list):
        rows = doc
    else:
        raise Stop('the JSON file must hold {"rows": [...]} or a list of rows', EXIT_INPUT)
    not_objects = [i for i, row in enumerate(rows, start=1) if not isinstance(row, dict)]
    if not_objects:
        raise Stop(f"item {not_objects[0]} of the rows is not an object", EXIT_INPUT)
    chunks = []
    for start in range(0, len(rows), size):
        part = rows[start : start + size]
        places = list(range(start + 1, start + len(part) + 1))
        chunks.append(Chunk(len(chunks) + 1, orjson.dumps({"rows": part}), "application/json", places))
    return len(rows), chunks


def read_source(path: Path, chunk_size: int) -> Source:
    """The file, split into the request bodies that will be sent, each knowing where its rows came from."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Stop(f"cannot read {path}: {exc.strerror}", EXIT_INPUT) from None
    kind = _kind(path, data)
    reader = {"csv": _read_csv, "xlsx": _read_xlsx, "json": _read_json}[kind]
    count, chunks = reader(data, chunk_size)
    return Source(path, kind, hashlib.sha256(data).hexdigest(), count, chunks)


# -- talking to the server ---------------------------------------------------------------------------------


@dataclass
class ChunkResult:
    chunk: Chunk
    status: str
    created: int
    updated: int
    unchanged: int
    replayed: bool


@dataclass
class Settings:
    url: str
    resource: str
    client_id: str | None = None
    client_secret: str | None = None
    token: str | None = None
    dry_run: bool = False
    retries: int = 6  # attempts after the first
    backoff: float = 0.5  # seconds before the first retry; doubled each time
    max_wait: float = 60.0
    timeout: float = 600.0
    key_salt: str = ""


@dataclass
class Importer:
    settings: Settings
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    results: list[ChunkResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = httpx.Client(
            base_url=self.settings.url.rstrip("/"),
            timeout=httpx.Timeout(self.settings.timeout, connect=10.0),
            transport=self.transport,
            headers={"User-Agent": "tamky-dx-import/1"},
        )
        self.token = self.settings.token

    # retries ------------------------------------------------------------------------------------------------

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        delay = self.settings.backoff * 2**attempt * (1 + random.random() / 4)
        if response is not None and (after := _retry_after(response)) is not None:
            delay = max(after, 0.0)
        return min(delay, self.settings.max_wait)

    def _request(self, what: str, method: str, url: str, **kw: Any) -> httpx.Response:
        """One request, retried on network errors, 5xx, 429 (Retry-After) and 409 (key still running)."""
        attempt = 0
        while True:
            problem: str
            try:
                response = self.http.request(method, url, **kw)
            except httpx.TransportError as exc:
                response, problem = None, f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"{response.status_code} {_detail(response)}"
            if attempt >= self.settings.retries:
                raise Stop(f"{what}: gave up after {attempt + 1} attempts; last: {problem}", EXIT_GAVE_UP)
            delay = self._wait(attempt, response)
            self.err.write(f"{what}: {problem}; retrying in {delay:.1f} s\n")
            self.sleep(delay)
            attempt += 1

    # token --------------------------------------------------------------------------------------------------

    def can_refresh(self) -> bool:
        return bool(self.settings.client_id and self.settings.client_secret)

    def fetch_token(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
        }
        r = self._request("getting a token", "POST", "/api/v1/auth/token", data=form)
        if r.status_code != 200:
            raise Stop(
                f"the server refused the client credentials ({r.status_code}: {_detail(r)}); "
                "check --client-id and --client-secret (or DX_IMPORT_CLIENT_ID / DX_IMPORT_CLIENT_SECRET)",
                EXIT_AUTH,
            )
        try:
            self.token = r.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            raise Stop(f"the token endpoint answered 200 without an access_token: {r.text[:200]}", EXIT_AUTH) from None

    # chunks -------------------------------------------------------------------------------------------------

    def idempotency_key(self, source: Source, chunk: Chunk) -> str:
        size = len(source.chunks[0].places) if source.chunks else 0
        base = f"{self.settings.resource}:{source.digest}:{size}:{chunk.number}/{len(source.chunks)}{self.settings.key_salt}"
        return "dx-import-" + hashlib.sha256(base.encode()).hexdigest()[:40] + f"-{chunk.number}"

    def send(self, source: Source, chunk: Chunk) -> httpx.Response:
        headers = {"Content-Type": chunk.content_type}
        if not self.settings.dry_run:  # a dry run writes nothing: a retry is safe, a stale replay is not
            headers["Idempotency-Key"] = self.idempotency_key(source, chunk)
        params = {"dry_run": "true"} if self.settings.dry_run else None
        what = f"chunk {chunk.number}/{len(source.chunks)}"
        refreshed = False
        while True:
            headers["Authorization"] = f"Bearer {self.token}"
            r = self._request(
                what,
                "POST",
                f"/api/v1/imports/{self.settings.resource}",
                content=chunk.body,
                headers=headers,
                params=params,
            )
            if r.status_code == 401 and self.can_refresh() and not refreshed:
                refreshed = True  # the token expired mid-run: one new one, once
                self.fetch_token()
                continue
            return r

    def run(self, source: Source, progress: Progress) -> int:
        if self.token is None:
            self.fetch_token()
        rejected = False
        for chunk in source.chunks:
            r = self.send(source, chunk)
            replayed = r.headers.get("idempotent-replayed", "").lower() == "true"
            body = _json(r)
            if r.status_code == 200 and isinstance(body, dict):
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
                progress.advance(len(chunk.places))
                continue
            progress.close()
            if r.status_code == 422 and isinstance(body, dict) and body.get("status") == "rejected":
                self._print_rejection(source, chunk, body, replayed)
                rejected = True
                if self.settings.dry_run:
                    progress.advance(len(chunk.places))
                    continue  # nothing is written in a dry run: check every chunk
                break
            self._refused(source, chunk, r, body)
        progress.close()
        self.print_summary(source)
        if rejected:
            if not self.settings.dry_run:
                self.err.write(self._committed_note())
            return EXIT_REJECTED
        return EXIT_OK

    def _committed_note(self) -> str:
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

    def _print_rejection(self, source: Source, chunk: Chunk, body: dict, replayed: bool) -> None:
        first, last = chunk.places[0], chunk.places[-1]
        lines = [
            f"error: chunk {chunk.number}/{len(source.chunks)} ({source.unit}s {first}-{last} of {source.path.name}) "
            f"was rejected; none of its rows was written:"
        ]
        for e in body.get("errors") or []:
            lines.append(
                f"  {self._where(source, chunk, e.get('row'))}, {e.get('field') or '(row)'}: {e.get('message')}"
            )
        if replayed:
            lines.append(
                "  (this answer is the server's replay of an earlier identical request; if you fixed something on "
                "the server rather than in the file, run again with --new-keys)"
            )
        self.err.write("\n".join(lines) + "\n")

    @staticmethod
    def _where(source: Source, chunk: Chunk, row: Any) -> str:
        if row == 0:
            return "line 1 (the header)" if source.kind == "csv" else "row 1 (the header)"
        if isinstance(row, int) and 1 <= row <= len(chunk.places):
            return f"{source.unit} {chunk.places[row - 1]}"
        return f"{source.unit} ? (server row {row})"

    def _refused(self, source: Source, chunk: Chunk, r: httpx.Response, body: Any) -> None:
        where = f"chunk {chunk.number}/{len(source.chunks)}"
        detail = _detail(r)
        extra = ""
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            extra = "".join(
                f"\n  {'.'.join(map(str, e.get('loc', [])))}: {e.get('msg')}"
                for e in body["errors"]
                if isinstance(e, dict)
            )
        self.print_summary(source)
        note = "\n" + self._committed_note().rstrip() if not self.settings.dry_run else ""
        if r.status_code == 401:
            raise Stop(f"{where}: the server refused the token (401: {detail}){note}", EXIT_AUTH)
        if r.status_code == 403:
            raise Stop(f"{where}: not allowed (403: {detail}){note}", EXIT_AUTH)
        if r.status_code == 413:
            raise Stop(
                f"{where}: too large for the server (413: {detail}); use a smaller --chunk-size{note}", EXIT_INPUT
            )
        raise Stop(f"{where}: the server answered {r.status_code}: {detail}{extra}{note}", EXIT_REJECTED)

    def print_summary(self, source: Source) -> None:
        if not self.results:
            return
        w = self.out.write
        w(
            f"{'chunk':>7}  {source.unit + 's':>13}  {'status':<10} {'created':>8} {'updated':>8} {'unchanged':>9}  replayed\n"
        )
        for r in self.results:
            span = f"{r.chunk.places[0]}-{r.chunk.places[-1]}"
            w(
                f"{r.chunk.number:>7}  {span:>13}  {r.status:<10} {r.created:>8} {r.updated:>8} {r.unchanged:>9}  {'yes' if r.replayed else 'no'}\n"
            )
        total = [sum(getattr(r, k) for r in self.results) for k in ("created", "updated", "unchanged")]
        rows = sum(len(r.chunk.places) for r in self.results)
        w(f"{'total':>7}  {str(rows) + ' rows':>13}  {'':<10} {total[0]:>8} {total[1]:>8} {total[2]:>9}\n")
        if self.settings.dry_run:
            w("dry run: nothing was written\n")


class Progress:
    """A progress bar on stderr (one line per chunk when stderr is not a terminal)."""

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


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def _detail(r: httpx.Response) -> str:
    body = _json(r)
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:500]
    return (r.text or r.reason_phrase)[:200].strip()


def _retry_after(r: httpx.Response) -> float | None:
    value = r.headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


# -- the command -------------------------------------------------------------------------------------------


def _chunk_size(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= n <= MAX_CHUNK:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_CHUNK} (the server's limit per request)")
    return n


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", required=True, help="the API's base URL, e.g. https://dx.tamky.gov.vn")
    p.add_argument("--client-id", default=os.environ.get("DX_IMPORT_CLIENT_ID"), help="default: $DX_IMPORT_CLIENT_ID")
    p.add_argument(
        "--client-secret",
        default=os.environ.get("DX_IMPORT_CLIENT_SECRET"),
        help="default: $DX_IMPORT_CLIENT_SECRET (prefer the variable: arguments show in the process list)",
    )
    p.add_argument("--token", help="a bearer token to use instead of client credentials")
    p.add_argument(
        "--chunk-size",
        type=_chunk_size,
        default=DEFAULT_CHUNK,
        help=f"rows per request (default {DEFAULT_CHUNK}, at most {MAX_CHUNK})",
    )
    p.add_argument("--dry-run", action="store_true", help="validate every chunk on the server, write nothing")
    p.add_argument(
        "--retries", type=int, default=6, help="retries per request on network errors, 5xx and 429 (default 6)"
    )
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for one chunk's answer (default 600)")
    p.add_argument(
        "--new-keys",
        action="store_true",
        help="do not replay the server's earlier answers to this same file (use after fixing something server-side)",
    )
    p.add_argument(
        "resource", help="units, unit-plans, broadcasts, forums, trainings, satisfaction-surveys, contest-entries"
    )
    p.add_argument("file", type=Path, help="a .csv (UTF-8), .xlsx (first sheet) or .json file")


def run(
    args: argparse.Namespace,
    *,
    transport: httpx.BaseTransport | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    backoff: float = 0.5,
) -> int:
    """Run the import described by the parsed arguments; returns the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    settings = Settings(
        url=args.url,
        resource=args.resource,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token=args.token,
        dry_run=args.dry_run,
        retries=max(args.retries, 0),
        backoff=backoff,
        timeout=args.timeout,
        key_salt=f":{secrets.token_hex(8)}" if args.new_keys else "",
    )
    try:
        if not settings.token and not (settings.client_id and settings.client_secret):
            raise Stop(
                "give --client-id and --client-secret (or DX_IMPORT_CLIENT_ID and DX_IMPORT_CLIENT_SECRET), or --token",
                EXIT_INPUT,
            )
        if not settings.url.startswith(("http://", "https://")):
            raise Stop(f"--url must start with http:// or https://, not {settings.url!r}", EXIT_INPUT)
        source = read_source(args.file, args.chunk_size)
        if source.rows == 0:
            raise Stop(f"{args.file} holds no rows: nothing to import", EXIT_INPUT)
        err.write(f"{source.path.name}: {source.rows} rows in {len(source.chunks)} chunks of up to {args.chunk_size}\n")
        importer = Importer(settings, out=out, err=err, transport=transport, sleep=sleep)
        try:
            return importer.run(source, Progress(err, source.rows, len(source.chunks), settings.resource))
        finally:
            importer.http.close()
    except Stop as stop:
        err.write(f"error: {stop}\n" if not str(stop).startswith("error:") else f"{stop}\n")
        return stop.code
