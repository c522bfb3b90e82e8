"""`obsrvr-flow webhooks listen`: a tiny local receiver for trying webhooks with `make dev`.

It verifies each POST as a customer's receiver would: with the ``standardwebhooks`` package for an HMAC secret
(``--secret whsec_...``), or the Ed25519 public key (``--public-key whpk_...``), and prints each verified delivery
as one JSON line on standard output (``webhook_id``, ``duplicate`` when the id was seen before, the payload).
A delivery that does not verify is answered 400 and reported on standard error.
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import orjson
import typer

from obsrvr_flow.common import err, fail

MAX_BODY_BYTES = 10 * 1024 * 1024
TOLERANCE_SECONDS = 5 * 60  # as the Standard Webhooks libraries


def _verifier(secret: str | None, public_key: str | None) -> Any:
    """`verify(body, headers)`, raising ValueError when the delivery does not verify."""
    if (secret is None) == (public_key is None):
        raise fail(["give --secret (whsec_...) or --public-key (whpk_...)"], 2)
    if secret is not None:
        try:
            from standardwebhooks.webhooks import Webhook, WebhookVerificationError
        except ImportError as exc:  # a test extra: `make install` has it
            raise fail(
                ["the standardwebhooks package is not installed: pip install standardwebhooks"]
            ) from exc
        try:
            hook = Webhook(secret)
        except Exception as exc:
            raise fail([f"--secret: not a webhook secret ({exc})"], 2) from exc

        def verify_hmac(body: bytes, headers: dict[str, str]) -> None:
            try:
                hook.verify(body, headers, json_parse=False)
            except WebhookVerificationError as exc:
                raise ValueError(str(exc)) from None

        return verify_hmac

    from services.webhooks.signing import verify_ed25519

    assert public_key is not None

    def verify_ed(body: bytes, headers: dict[str, str]) -> None:
        msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        if not (msg_id and stamp.isdigit() and headers.get("webhook-signature")):
            raise ValueError("missing or bad webhook-id, webhook-timestamp or webhook-signature")
        if abs(time.time() - int(stamp)) > TOLERANCE_SECONDS:
            raise ValueError("timestamp more than 5 minutes off")
        if not verify_ed25519(public_key, msg_id, int(stamp), body, headers["webhook-signature"]):
            raise ValueError("no v1a signature verifies with the public key")

    return verify_ed


def listen(
    port: Annotated[int, typer.Option(help="Port to listen on")],
    secret: Annotated[str | None, typer.Option(help="The endpoint's whsec_ secret (HMAC)")] = None,
    public_key: Annotated[str | None, typer.Option("--public-key", help="The endpoint's whpk_ key")] = None,
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
) -> None:
    """Receive webhooks on http://HOST:PORT/ and print each verified delivery as a JSON line."""
    verify = _verifier(secret, public_key)
    seen: set[str] = set()
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            text = self.headers.get("Content-Length") or "0"
            length = int(text) if text.isascii() and text.isdigit() else -1
            if not 0 <= length <= MAX_BODY_BYTES:
                self._answer(413)
                return
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verify(body, headers)
                payload = orjson.loads(body)
            except (ValueError, orjson.JSONDecodeError) as exc:
                err.print(f"refused {headers.get('webhook-id', '?')}: {exc}", highlight=False)
                self._answer(400)
                return
            msg_id = headers["webhook-id"]
            with lock:
                duplicate = msg_id in seen
                seen.add(msg_id)
                line = {"webhook_id": msg_id, "duplicate": duplicate, "payload": payload}
                sys.stdout.write(orjson.dumps(line).decode() + "\n")
                sys.stdout.flush()
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return  # stdout carries deliveries only; refusals go to stderr above

    server = ThreadingHTTPServer((host, port), Receiver)
    err.print(f"listening on http://{host}:{server.server_address[1]}/", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
