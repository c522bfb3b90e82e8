"""The error that ends a subscription whose client does not keep up."""

from __future__ import annotations

from core.errors import ClientError


class SlowConsumer(ClientError):
    """A live subscriber whose queue of rows filled up: its stream ends. `resume_after` is the id of the last
    row it took, so a new subscription with ``after: <resume_after>`` continues with nothing lost (the
    WebSocket transport closes with 4408 and names it)."""

    code = "slow_consumer"

    def __init__(self, resume_after: str) -> None:
        super().__init__(
            f"the subscriber fell too far behind; resubscribe with after: {resume_after!r}",
            details={"resume_after": resume_after},
        )
        self.resume_after = resume_after
