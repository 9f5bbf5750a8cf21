"""What the connection makes of a community's odd answers."""

from __future__ import annotations

import httpx
import pytest

from kith.connection.client import _retry_after


@pytest.mark.parametrize(
    ("header", "seconds"), [("120", 120), ("0", 0), ("³", None), ("1.5", None), ("soon", None)]
)
def test_retry_after_is_a_whole_number_of_seconds_or_nothing(
    header: str, seconds: int | None
) -> None:
    answer = httpx.Response(429, headers={"Retry-After": header.encode("latin-1")})
    assert _retry_after(answer) == seconds
