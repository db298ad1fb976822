"""A real HTTP receiver on 127.0.0.1 (a server in a thread) that records what it was sent and answers
as told: a list of status codes to give first (then 200), so a test can make it fail twice."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
from standardwebhooks import Webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    path: str  # below /hook: which endpoint of the test it was sent to

    @property
    def json(self) -> dict:
        return orjson.loads(self.body)

    @property
    def type(self) -> str:
        return self.json["type"]

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []  # given in order before answering 200
        self.tries: list[Received] = []  # every request, answered well or not
        self.delay = 0.0  # seconds to wait before answering
        self.lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                headers = {k.lower(): v for k, v in self.headers.items()}
                got = Received(headers, body, time.time(), self.path.removeprefix("/hook"))
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.tries.append(got)
                    if status < 300:
                        receiver.received.append(got)
                    receiver.lock.notify_all()
                self.send_response(status)
                reply = b"x" * 5000 if status >= 300 else b"ok"
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 15, **match) -> list[Received]:
        """The deliveries received so far once at least `count` match (by `type`), or fail saying what came."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                got = [r for r in self.received if all(getattr(r, k) == v for k, v in match.items())]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [r.type for r in self.received]
                    raise AssertionError(f"expected {count} deliveries matching {match}, received {seen}")
                self.lock.wait(left)

    def quiet(self, seconds: float = 0.6) -> list[Received]:
        """What arrived once nothing more has come for `seconds` (to check that nothing extra is sent)."""
        while True:
            before = len(self.received)
            time.sleep(seconds)
            if len(self.received) == before:
                return list(self.received)


def verified(secret: str, delivery: Received) -> dict:
    """The delivery's payload, verified with the standardwebhooks library as a ward system would."""
    return Webhook(secret).verify(delivery.body, delivery.headers)
