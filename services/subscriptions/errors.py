"""The error that ends a subscription whose client does not keep up."""

from __future__ import annotations

from core.errors import ClientError


class SlowConsumer(ClientError):
    """A subscriber whose client does not keep up: raised by the WebSocket transport when its send buffer stays
    full with nothing written (the hub itself never ends a stream for slowness: a live subscriber behind goes
    back to catching up). `resume_after` is the id of the last row written for it, so a new subscription with
    ``after: <resume_after>`` continues with nothing lost (the transport closes with 4408 and names it)."""

    code = "slow_consumer"

    def __init__(self, resume_after: str) -> None:
        super().__init__(
            f"the subscriber fell too far behind; resubscribe with after: {resume_after!r}",
            details={"resume_after": resume_after},
        )
        self.resume_after = resume_after
