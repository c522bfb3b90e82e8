"""The implementations a test can run the fast decoder with (`ledgers.skippers`): ``c`` is the compiled XDR
skippers and the compiled entry-change builder, ``python`` both in Python."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ledgers import skippers


def available() -> tuple[str, ...]:
    """``("c", "python")`` where the compiled skippers (built for this schema) and the compiled entry-change
    builder are built, else ``("python",)``."""
    built = skippers.compiled() is not None and skippers.compiled_changes() is not None
    return skippers.IMPLEMENTATIONS if built else ("python",)


@contextmanager
def using(name: str) -> Iterator[None]:
    """Run the block with the skippers `name`, then restore the ones in use before."""
    before = skippers.implementation()
    skippers.use(name)
    try:
        yield
    finally:
        skippers.use(before)
