"""Redis' exceptions in the gateway's tree: which ones take the link down."""

from __future__ import annotations

import pytest
import redis.exceptions as rx

from gateway.errors import ServiceError, SharedStateUnavailableError
from gateway.shared import translate


def pool_busy() -> rx.ConnectionError:
    try:
        try:
            raise TimeoutError
        except TimeoutError as err:
            raise rx.ConnectionError("No connection available.") from err
    except rx.ConnectionError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "down"),
    [
        (rx.ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused."), True),
        (rx.TimeoutError("Timeout reading from socket"), True),
        (rx.BusyLoadingError("Redis is loading the dataset in memory"), True),
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (TimeoutError(), True),
        (rx.ResponseError("OOM command not allowed when used memory > 'maxmemory'."), False),
        (rx.ReadOnlyError("You can't write against a read only replica."), False),
        (pool_busy(), False),
        (ValueError("a surprise"), False),
    ],
)
def test_translation(exc: BaseException, down: bool) -> None:
    error = translate("read", exc)
    assert isinstance(error, SharedStateUnavailableError) and isinstance(error, ServiceError)
    assert error.code == "shared_state_unavailable" and error.status == 503
    assert error.link_down is down
    assert "read" in error.message
    assert "maxmemory" not in error.message and "127.0.0.1" not in error.message  # no detail
