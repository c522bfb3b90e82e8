"""Settings refuse what would only fail later: an unknown database URL, a cold store that is no folder or bucket."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.settings import Settings


@pytest.mark.parametrize(
    "url", ["file://.obsrvr-flow/cold", "file:///var/lib/cold", "s3://bucket/cold", "gs://bucket"]
)
def test_cold_store_urls_accepted(url: str) -> None:
    assert Settings(cold_url=url).cold_url == url


@pytest.mark.parametrize("url", ["", "http://host/cold", "s3://", "ftp://host/x"])
def test_cold_store_urls_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="cold_url"):
        Settings(cold_url=url)


def test_database_url_must_be_a_known_backend() -> None:
    with pytest.raises(ValidationError, match="database_url"):
        Settings(database_url="mysql://root@localhost/x")


@pytest.mark.parametrize("seconds", [1, 2, 5, 15, 60])
def test_backfill_resume_interval_divides_a_minute(seconds: int) -> None:
    assert Settings(backfill_resume_seconds=seconds).backfill_resume_seconds == seconds


@pytest.mark.parametrize("seconds", [0, 7, 45, 61, 120])
def test_backfill_resume_interval_refused(seconds: int) -> None:
    with pytest.raises(ValidationError, match="backfill_resume_seconds"):
        Settings(backfill_resume_seconds=seconds)
