"""Whether the address `dev` (or `serve`) is about to listen on is free, asked before any work is done."""

from __future__ import annotations

import socket

SEARCH = 20
"""Ports tried above a busy one for the suggestion."""


def bind_error(host: str, port: int) -> OSError | None:
    """The error binding `host:port` gives now (None: free), bound the way uvicorn binds (SO_REUSEADDR, so a port
    only in TIME_WAIT counts as free, as it is for the server)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except OSError as exc:
        return exc
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc
    return None


def port_problem(host: str, port: int) -> str | None:
    """A message saying the port cannot be used and which one can (`--port`, `make dev PORT=`), or None."""
    error = bind_error(host, port)
    if error is None:
        return None
    free = next(
        (p for p in range(port + 1, min(port + 1 + SEARCH, 65536)) if bind_error(host, p) is None), None
    )
    reason = error.strerror or str(error)
    advice = (
        f"run on another port: --port {free} (make dev PORT={free})"
        if free is not None
        else "run on another port with --port N (make dev PORT=N)"
    )
    return f"cannot listen on {host}:{port} ({reason.lower()}): {advice}"
