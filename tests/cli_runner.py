"""Run `python -m obsrvr_flow ARGS` to completion, as `subprocess.run` would, without paying the CLI's start-up
each time.

Starting the CLI imports every package (processors, SQLAlchemy, DuckDB, pyarrow, the SDK): 1.5-3 s on this
machine, for commands that then run in a fraction of that, and the suite runs a couple of hundred of them. A
helper process imports the CLI once per session and forks a child per command: the child is a new process of
its own (its own pid, environment, working directory, stdin from /dev/null, stdout and stderr captured, exit
code from `main()`, a traceback printed and exit code 1 on an uncaught exception, as the interpreter does), that
simply starts with the modules already imported. The helper only ever imports and forks (no thread, no event
loop, no connection), so a child inherits nothing a fresh interpreter would not build itself.

What the modules read from the environment as they are imported (a console's width, `PYTHON*`) is what the
command's environment says: one helper per distinct set of those values. Where the helper cannot be used (no
`fork`, an import that started a thread) the command runs as a plain subprocess. Tests that
signal or kill a running CLI keep starting real processes (tests/servers.py `spawn_cli`).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

CLI = [sys.executable, "-m", "obsrvr_flow"]

# The helper: reads one JSON request a line, forks, answers the child's pid, then its exit code.
_HELPER = r"""
import importlib, json, os, sys, threading, traceback
import obsrvr_flow.cli as cli
for module in sys.argv[1:]:
    importlib.import_module(module)
out = os.fdopen(os.dup(1), "w")
if threading.active_count() != 1 or not hasattr(os, "fork"):
    out.write("unsafe\n"); out.flush(); sys.exit(0)
out.write("ready\n"); out.flush()
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setsid()
            os.environ.clear()
            os.environ.update(request["env"])
            os.chdir(request["cwd"])
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(os.open(request["stdout"], os.O_WRONLY), 1)
            os.dup2(os.open(request["stderr"], os.O_WRONLY), 2)
            sys.argv = ["obsrvr_flow", *request["args"]]
            try:
                cli.main()
                code = 0
            except SystemExit as stop:
                if stop.code is None:
                    code = 0
                elif isinstance(stop.code, int):
                    code = stop.code
                else:
                    print(stop.code, file=sys.stderr)
                    code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    out.write(json.dumps({"pid": pid}) + "\n"); out.flush()
    _, status = os.waitpid(pid, 0)
    out.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n"); out.flush()
"""


# The CLI imports what a command uses inside the command (`--help` stays cheap); the helper imports what the
# suite's commands use once, so each forked command starts with it (and with the registry built) as before.
_PRELOAD = (
    "processors.registry",
    "services.onboarding",
    "services.tenant_configs",
    "services.webhooks.endpoints",
    "services.webhooks.events",
    "services.webhooks.operations",
    "storage.api_keys",
    "storage.db",
    "storage.jobs",
    "storage.migrate",
    "storage.tenants",
)


class _Helper:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", _HELPER, *_PRELOAD],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        self.usable = self.proc.stdout.readline().strip() == "ready"

    def run(
        self, args: list[str], env: dict[str, str], cwd: Path | None, timeout: float
    ) -> tuple[int, str, str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with tempfile.TemporaryDirectory(prefix="obsrvr-cli-") as folder:
            out, err = Path(folder, "stdout"), Path(folder, "stderr")
            out.touch()
            err.touch()
            request = {
                "args": args,
                "env": env,
                "cwd": str(cwd or Path.cwd()),
                "stdout": str(out),
                "stderr": str(err),
            }
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            pid = json.loads(self.proc.stdout.readline())["pid"]
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            if not ready:
                os.killpg(pid, signal.SIGKILL)
                self.proc.stdout.readline()
                raise subprocess.TimeoutExpired([*CLI, *args], timeout, out.read_text(), err.read_text())
            code = json.loads(self.proc.stdout.readline())["code"]
            return code, out.read_text(), err.read_text()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


# What modules read from the environment when they are imported (rich's consoles, obsrvr_flow/common.py, take
# their width and colours then; the interpreter its PYTHON* settings): a helper imports under the values of the
# command's environment, one helper per distinct set of them.
_IMPORT_TIME = (
    "COLUMNS",
    "LINES",
    "NO_COLOR",
    "FORCE_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "TERM",
    "COLORTERM",
)

_lock = threading.Lock()
_helpers: dict[tuple[tuple[str, str], ...], _Helper] = {}


def _import_time(env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in env.items() if k in _IMPORT_TIME or k.startswith("PYTHON")))


def _helper_for(env: dict[str, str]) -> _Helper:
    key = _import_time(env)
    helper = _helpers.get(key)
    if helper is None or helper.proc.poll() is not None:
        start = {k: v for k, v in os.environ.items() if k not in _IMPORT_TIME and not k.startswith("PYTHON")}
        helper = _helpers[key] = _Helper({**start, **dict(key)})
        atexit.register(helper.close)
    return helper


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run([*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)`."""
    with _lock:
        helper = _helper_for(env)
        if helper.usable:
            code, stdout, stderr = helper.run(args, env, cwd, timeout)
            return subprocess.CompletedProcess([*CLI, *args], code, stdout, stderr)
    return subprocess.run(  # noqa: S603 - our own CLI
        [*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
