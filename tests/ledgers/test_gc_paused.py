"""`ledgers.model.gc_paused` in two threads at once (a decoding thread per ingest job of `obsrvr-flow dev`, beside
the API): the collector is on again once both pauses ended."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ledgers import model
from ledgers.model import gc_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    """The process's collector enabled before and after, whatever the test leaves."""
    gc.enable()
    yield
    gc.enable()


def test_pauses_overlapping_in_two_threads_leave_the_collector_enabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a_inside, a_may_leave, a_left = threading.Event(), threading.Event(), threading.Event()

    class Preempted:
        """`gc`, with thread b held inside `gc.disable()` until thread a's pause ended: the thread switch that
        left the collector off (b read `isenabled()` during a's pause and disabled after a re-enabled it)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(gc, name)

        def disable(self) -> None:
            if threading.current_thread().name == "b":
                a_may_leave.set()
                a_left.wait(2)  # a guard: where the pause holds a lock here, a waits for b instead
            gc.disable()

    monkeypatch.setattr(model, "gc", Preempted())

    def a() -> None:
        with gc_paused():
            a_inside.set()
            a_may_leave.wait(30)
        a_left.set()

    def b() -> None:
        a_inside.wait(30)
        with gc_paused():
            pass
        a_may_leave.set()

    threads = [threading.Thread(target=a, name="a"), threading.Thread(target=b, name="b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert a_left.is_set()
    assert gc.isenabled()


def test_a_caller_that_disabled_the_collector_keeps_it_disabled() -> None:
    gc.disable()
    with gc_paused(), gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
