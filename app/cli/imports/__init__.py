"""`python -m app import`: send a CSV, XLSX or JSON file to a server's import endpoint in chunks.

Each chunk is one request, so each chunk is atomic on the server and the file as a whole is not: a chunk
rejected for bad rows stops the run, and the chunks before it stay committed. Every chunk carries an
`Idempotency-Key` made from the file's SHA-256 and the chunk's place, so running the same command again
after a crash replays what the server already committed instead of writing it twice.

One module per job: `files` reads the file (an .xlsx to its real extent, the header found below title rows)
and cuts it into request bodies; `http` talks to the server (token, retries, backoff); `progress` draws the
bar; `report` says what happened at the file's own line numbers; `command` is the argparse front.
"""

from app.cli.imports.command import add_arguments, run
from app.cli.imports.files import EXIT_AUTH, EXIT_GAVE_UP, EXIT_INPUT, EXIT_OK, EXIT_REJECTED, Stop

__all__ = ["EXIT_AUTH", "EXIT_GAVE_UP", "EXIT_INPUT", "EXIT_OK", "EXIT_REJECTED", "Stop", "add_arguments", "run"]
