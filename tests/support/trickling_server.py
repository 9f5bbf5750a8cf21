"""A community API that trickles: a loopback HTTP server answering every request with one byte
every `interval` seconds, for `lasting` seconds or until the client hangs up (httpx's per-read
timeout never fires on it; only an overall deadline stops the reading sooner)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def trickling_server(interval: float = 1.0, lasting: float = 30.0) -> Iterator[str]:
    """The server's base URL for the length of the block."""
    stopping = threading.Event()

    class Trickle(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection does: never

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            ends = time.monotonic() + lasting
            try:
                while time.monotonic() < ends:
                    self.wfile.write(b" ")  # whitespace: never a whole line, never a JSON body
                    self.wfile.flush()
                    if stopping.wait(interval):
                        return
            except OSError:  # the client hung up
                return

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
