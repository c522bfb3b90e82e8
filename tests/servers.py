"""Processes for tests (and bench scripts) that run the service for real: a free port, a wait loop, the
`obsrvr-flow` CLI started in a process group of its own and stopped with what it left behind; and private Redis
and PostgreSQL servers for outage tests, started on a free port in a temporary folder, stopped and restarted by
the test, and removed afterwards. The shared servers (DEVELOPERS.md) are never stopped.

PostgreSQL's `initdb` refuses to run as root: as root, the cluster is made and run as the `postgres` user (in a
folder it owns). A test skips, saying why, only where the server binaries are absent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PG_BIN = Path(os.environ.get("OBSRVR_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
CLI = [sys.executable, "-m", "obsrvr_flow"]


async def drop_redis_keys(redis_url: str, prefix: str) -> None:
    """Remove every key under `prefix`, and arq's keys of queues named under it (a bench's leftovers)."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        keys += [k async for k in redis.scan_iter(match=f"arq:*:{prefix}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@contextlib.contextmanager
def uvicorn_thread(app: Any, port: int | None = None) -> Iterator[int]:
    """Serve `app` with uvicorn on 127.0.0.1 in a daemon thread of this process (its own event loop) for the
    block; yields the port."""
    import threading

    import uvicorn

    port = port if port is not None else free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=20)


async def pubsub_listeners(redis_url: str, channel: str, count: int) -> None:
    """Wait until `channel` has `count` pub/sub subscribers (a server's hub joined it)."""
    import asyncio

    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        while (await redis.pubsub_numsub(channel))[0][1] < count:  # noqa: ASYNC110 - another process's state
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


S3_KEYS = {"access_key_id": "testing", "secret_access_key": "testing"}
"""Credentials moto accepts (it checks none); tests pass them so requests are signed as against AWS."""


@contextlib.contextmanager
def moto_s3(port: int | None = None) -> Iterator[Any]:
    """A real S3 API for tests: moto's server in a thread on a loopback port (free, unless `port` is given:
    the same server back after an outage), `http://host:port` from `endpoint_of`, stopped on exit. The test
    may stop it earlier to simulate an outage. Its buckets live in moto's in-process state, shared by every
    server of the process: tests use buckets of their own."""
    pytest.importorskip("moto", reason="moto[server] is a test dependency")
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or free_port(), verbose=False)
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(Exception):  # already stopped by the test
            server.stop()


def endpoint_of(server: Any) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def create_bucket(endpoint: str, bucket: str) -> Any:
    """Create `bucket` on the S3 API at `endpoint`; a boto3 client for checking what the code stored."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEYS["access_key_id"],
        aws_secret_access_key=S3_KEYS["secret_access_key"],
    )
    client.create_bucket(Bucket=bucket)
    return client


def wait_until(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    *,
    every: float = 0.1,
    details: Callable[[], str] | None = None,
) -> Any:
    """The first truthy value of `condition()`, asked every `every` seconds; AssertionError naming `what` (and
    `details()`, e.g. the service's logs) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{details()}" if details else ""))


def spawn_cli(
    args: list[str], env: dict[str, str], log: Path | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """`obsrvr-flow *args` in a process group of its own (so `stop_process` also ends its decoding processes),
    its output in `log` (or dropped), run in `cwd` (default: this process's)."""
    with contextlib.ExitStack() as files:
        out = files.enter_context(log.open("wb")) if log is not None else subprocess.DEVNULL
        return subprocess.Popen(  # noqa: S603 - our own CLI
            [*CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd
        )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Wait for a process told to stop (killed if it lingers), then end what is left of its process group: a
    worker's decoding process (and multiprocessing's resource tracker) outlive a killed worker, orphaned."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_for_port(port: int, timeout: float = 20.0, *, up: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise AssertionError(f"port {port} did not come {'up' if up else 'down'} within {timeout} s")


class PrivateRedis:
    """A `redis-server` of this test alone (no persistence)."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed: the Redis outage tests need a private server")
        self.binary = binary
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="obsrvr-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - the system's redis-server
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
        wait_for_port(self.port, up=False)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivatePostgres:
    """A PostgreSQL cluster of this test alone (trust authentication, user `postgres`)."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}: the PostgreSQL outage test needs them")
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="obsrvr-pg-"))
        self.data = self.folder / "data"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"])

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, command: list[str]) -> None:
        argv = [str(PG_BIN / command[0]), *command[1:]]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)  # noqa: S603 - PostgreSQL's tools

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            ["pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start"]
        )

    def stop(self) -> None:
        # Fast shutdown: open connections are ended, as in a restart in production.
        self._run(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)
