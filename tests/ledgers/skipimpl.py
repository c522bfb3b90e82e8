"""The XDR skipper implementations a test can run the fast decoder with (`ledgers.skippers`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ledgers import skippers


def available() -> tuple[str, ...]:
    """``("c", "python")`` where the compiled skippers are built for this schema, else ``("python",)``."""
    return skippers.IMPLEMENTATIONS if skippers.compiled() is not None else ("python",)


@contextmanager
def using(name: str) -> Iterator[None]:
    """Run the block with the skippers `name`, then restore the ones in use before."""
    before = skippers.implementation()
    skippers.use(name)
    try:
        yield
    finally:
        skippers.use(before)
