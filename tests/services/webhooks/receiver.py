"""A real webhook receiver for tests: an HTTP server on a loopback port, in a thread, verifying every request
with the `standardwebhooks` package (the receiver a customer would write), remembering what arrived.

Its behaviour is switched by the test: `ok`, `fail` (500), `retry_after` (429/503 with a Retry-After), `gone`
(410), `hang` (accepts, never answers), `huge` (an endless body), `redirect` (a redirect to itself); `stop()`
closes the port (connections refused) and `start()` opens the same port again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Arrival:
    message_id: str
    body: bytes
    headers: dict[str, str]
    verified: bool
    at: float


@dataclass
class Receiver:
    secrets: list[str]  # every secret a signature must verify with (each one on its own: a rotation)
    mode: str = "ok"
    status: int = 500  # the status of `fail` / `retry_after`
    retry_after: str | None = None
    delay: float = 0.0  # seconds each request takes before it is answered (a slow receiver)
    path: str = "/hook"
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)  # ends `hang` requests
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def delivered_ids(self) -> list[str]:
        """Ids answered 2xx, in arrival order (duplicates included)."""
        with self.lock:
            return [
                a.message_id for a in self.arrivals if a.verified and a.headers.get("x-answered") == "2xx"
            ]

    def unique_delivered(self) -> set[str]:
        return set(self.delivered_ids())

    def all_verified(self) -> bool:
        with self.lock:
            return all(a.verified for a in self.arrivals)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm on, the second waits for the
            # client's delayed ACK (~40 ms an answer). Real servers (nginx, uvicorn) set TCP_NODELAY too.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender went away mid-request (a worker killed between writing the headers and the
                    # body): no delivery took place, and none is recorded (its bytes cannot verify).
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = bool(receiver.secrets) and all(
                    _verifies(s, body, headers) for s in receiver.secrets
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                mode = receiver.mode
                arrival = Arrival(headers.get("webhook-id", ""), body, headers, verified, time.monotonic())
                if mode == "ok":
                    arrival.headers["x-answered"] = "2xx"
                with receiver.lock:
                    receiver.arrivals.append(arrival)
                if mode == "ok":
                    self._answer(200, b"ok")
                elif mode == "fail":
                    self._answer(receiver.status, b"receiver error")
                elif mode == "retry_after":
                    self._answer(receiver.status, b"slow down", {"Retry-After": receiver.retry_after or "0"})
                elif mode == "gone":
                    self._answer(410, b"gone")
                elif mode == "redirect":
                    self._answer(302, b"", {"Location": receiver.url})
                elif mode == "hang":
                    receiver.release.wait(60)
                elif mode == "huge":
                    self.send_response(200)
                    self.send_header("Content-Length", str(1 << 40))
                    self.end_headers()
                    chunk = b"x" * 65536
                    with contextlib.suppress(OSError):
                        for _ in range(1 << 16):  # 4 GiB at most: the client hangs up long before
                            self.wfile.write(chunk)

            def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client hanging up (a deadline, a worker killed or stopped) is part of the tests: say nothing.
                import sys

                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Close the port: connections are refused until `start()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except WebhookVerificationError:
        return False
    return True


@contextlib.contextmanager
def receiving(secrets: list[str], **options: Any) -> Any:
    receiver = Receiver(secrets, **options).start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        receiver.stop()
