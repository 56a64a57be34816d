"""A webhook receiver on 127.0.0.1: answers with the queued status codes (then 200), or not at all while held, and
keeps every request it was sent (headers, lower-cased, and body), for the length of a `with`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    url: str = ""
    statuses: list[int] = field(default_factory=list)
    hold: bool = False  # while True, a request is read and kept, but not answered (a sender can die waiting)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # time.time() of each request, beside `received`


@contextmanager
def webhook_receiver(port: int = 0) -> Iterator[Receiver]:
    seen = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 — the standard library's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.arrived.append(time.time())
            seen.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            while seen.hold:
                time.sleep(0.02)
            self.send_response(seen.statuses.pop(0) if seen.statuses else 200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield seen
    finally:
        server.shutdown()
