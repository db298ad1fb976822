"""The `import` command: arguments, then read, connect, send chunk after chunk, report."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import httpx

from app.cli.imports.files import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_REJECTED,
    MAX_CHUNK,
    Source,
    Stop,
    file_kind,
    json_source,
    read_bytes,
    read_table,
    table_source,
)
from app.cli.imports.http import Server, Settings, json_body
from app.cli.imports.progress import Progress
from app.cli.imports.report import Report

DEFAULT_CHUNK = 5_000


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
    p.add_argument(
        "file",
        type=Path,
        help="a .csv (UTF-8), .xlsx (first sheet; a filled-in template with title rows is fine) or .json file",
    )


def send_all(server: Server, source: Source, report: Report, progress: Progress) -> int:
    """Every chunk in turn; a rejected chunk stops the run (a dry run checks them all)."""
    dry_run = server.settings.dry_run
    rejected = False
    for chunk in source.chunks:
        r = server.send(source, chunk)
        replayed = r.headers.get("idempotent-replayed", "").lower() == "true"
        body = json_body(r)
        if r.status_code == 200 and isinstance(body, dict):
            report.committed(chunk, body, replayed)
            progress.advance(len(chunk.places))
            continue
        progress.close()
        if r.status_code == 422 and isinstance(body, dict) and body.get("status") == "rejected":
            report.rejection(chunk, body, replayed)
            rejected = True
            if dry_run:
                progress.advance(len(chunk.places))
                continue  # nothing is written in a dry run: check every chunk
            break
        report.refused(chunk, r, body)
    progress.close()
    report.summary()
    if rejected:
        if not dry_run:
            report.err.write(report.committed_note())
        return EXIT_REJECTED
    return EXIT_OK


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
        path: Path = args.file
        data = read_bytes(path)
        kind = file_kind(path, data)
        # the whole file is read (and its formulas refused) before anything is sent
        table = read_table(path, data, kind) if kind != "json" else None
        if table is not None and len(table.records) < 2:
            if not table.records:
                raise Stop("the file has no header row (a row that names the columns)", EXIT_INPUT)
            raise Stop(f"{path} holds no rows: nothing to import", EXIT_INPUT)
        server = Server(settings, err=err, transport=transport, sleep=sleep)
        try:
            if server.token is None:
                server.fetch_token()
            if table is not None:
                source = table_source(path, data, table, server.column_names(), args.chunk_size)
            else:
                source = json_source(path, data, args.chunk_size)
            if source.rows == 0:
                raise Stop(f"{path} holds no rows: nothing to import", EXIT_INPUT)
            above = f" (header on line {source.header_line})" if source.header_line != 1 else ""
            err.write(
                f"{path.name}: {source.rows} rows in {len(source.chunks)} chunks of up to {args.chunk_size}{above}\n"
            )
            report = Report(source, dry_run=settings.dry_run, out=out, err=err)
            return send_all(server, source, report, Progress(err, source.rows, len(source.chunks), settings.resource))
        finally:
            server.close()
    except Stop as stop:
        err.write(f"error: {stop}\n" if not str(stop).startswith("error:") else f"{stop}\n")
        return stop.code
