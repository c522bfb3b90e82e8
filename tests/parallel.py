"""What the suite needs to run in several processes (pytest-xdist, `make test` runs `-n 3 --dist loadfile`).

Every test file runs whole in one worker (`--dist loadfile`), so module-scoped fixtures are built once, as
before. Session-scoped fixtures are per worker unless they say otherwise: the databases and Redis prefixes are
random names already, temporary folders are per worker (`tmp_path_factory`). Three things are shared by the
workers of a run, in a folder of the run's own (`run_folder`):

- `once_per_run`: a value built by the first worker that asks for it, under a file lock, and read by the others
  (the ingested mainnet ledgers, tests/mainnet_data.py: tens of seconds to build, per backend). PostgreSQL
  databases it makes are named `shared_database(config, ...)`, and the controller drops them when the run ends
  (`drop_shared_databases`): a worker cannot, another may still be copying them.
- `turn`: a test marked `@pytest.mark.alone` (timing-sensitive: it compares latencies measured in the test) runs
  while no other test of the run does; the other workers wait for it. A reader-writer lock on two files: every
  test holds the `running` lock shared, an `alone` test exclusively; an `alone` test waiting for it holds the
  `gate` every test passes first, so the others cannot keep it waiting for ever.

The order of the files: `--dist loadfile` hands each worker the next file of its queue when it is done with one, in
the order the workers collected them (`--no-loadscope-reorder` in pyproject.toml: xdist's own order, files with
the most tests first, put the minutes-long files holding one or two tests last, where one of them ran on alone
while the other workers had finished). `order_files` puts the files marked `@pytest.mark.heavy(seconds)` first,
the longest first (`seconds`: the file's time in a run of the suite, a rough figure that only orders them), then the
others with the most tests first, as xdist did. A file that takes a minute or more belongs among the heavy ones:
one left unmarked starts wherever its test count puts it, and a late one runs on alone at the end.

Without xdist (`-n 0`, or `pytest` run by hand) there is one process: nothing is locked or shared across
processes, and every session fixture behaves as before.
"""

from __future__ import annotations

import fcntl
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

SHARED_DATABASE_PREFIX = "obsrvr_shared"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """The process that started xdist workers (it runs no test itself)."""
    return not is_worker(config) and bool(getattr(config.option, "numprocesses", None))


def run_id(config: pytest.Config) -> str:
    """The run's id, the same in the controller and every worker (the controller chooses it, see
    `choose_run_id`)."""
    if is_worker(config):
        return str(config.workerinput["testrunuid"])  # type: ignore[attr-defined]
    return str(config.option.testrunuid)


def choose_run_id(config: pytest.Config) -> None:
    """In the controller, before xdist starts the workers: fix the id it hands them, so the controller knows the
    names of the databases they share."""
    if is_controller(config) and not config.option.testrunuid:
        config.option.testrunuid = uuid.uuid4().hex


def run_folder(config: pytest.Config) -> Path:
    """A folder shared by the run's workers: the parent of their temporary folders (`pytest-N/popen-gwK`),
    cleaned up by pytest like them."""
    return Path(config.option.basetemp).parent


@contextmanager
def _locked(path: Path, mode: int) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def turn(config: pytest.Config, alone: bool) -> Iterator[None]:
    """Run one test: alone (no other test of the run running) or beside the others (see the module docstring)."""
    if not is_worker(config):
        yield
        return
    folder = run_folder(config)
    with open(folder / "gate.lock", "a+") as gate, open(folder / "running.lock", "a+") as running:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(running, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:  # an `alone` test keeps the gate shut until it is done
                fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(running, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


def order_files(items: list[pytest.Item]) -> None:
    """Reorder `items` in place, each file's tests kept together and in their order: the files marked `heavy`
    first, longest first, then the others by their number of tests, most first (a stable sort: the same order in
    every worker, as xdist requires)."""
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def cost(tests: list[pytest.Item]) -> tuple[bool, float, int]:
        heavy = tests[0].get_closest_marker("heavy")
        if heavy is None:
            return True, 0.0, -len(tests)
        return False, -float(heavy.args[0] if heavy.args else 0), -len(tests)

    items[:] = [item for tests in sorted(files.values(), key=cost) for item in tests]


def shared_database(config: pytest.Config, name: str) -> str:
    """The name of a PostgreSQL database shared by the run's workers (dropped by the controller at the end)."""
    return f"{SHARED_DATABASE_PREFIX}_{run_id(config)[:12]}_{name}"


def once_per_run(config: pytest.Config, name: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`build()`'s value (JSON), built by the first worker of the run that asks, read by the others.

    A failed build leaves nothing: the next worker that asks builds again (and reports its own error)."""
    folder = run_folder(config)
    done = folder / f"{name}.json"
    with _locked(folder / f"{name}.lock", fcntl.LOCK_EX):
        if done.exists():
            value: dict[str, Any] = json.loads(done.read_text())
            return value
        value = build()
        partial = done.with_suffix(".partial")
        partial.write_text(json.dumps(value))
        partial.rename(done)
        return value


def drop_shared_databases(config: pytest.Config, admin: Callable[[str], list[str]]) -> None:
    """In the controller, once every worker has finished: drop the databases the workers shared.
    `admin(sql)` runs one statement on the server's admin database and returns the first column's values."""
    pattern = f"{SHARED_DATABASE_PREFIX}_{run_id(config)[:12]}_%"
    for name in admin(f"SELECT datname FROM pg_database WHERE datname LIKE '{pattern}'"):
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
