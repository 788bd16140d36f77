"""Asking another service over RPC whether what a command names exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nameko.exceptions import RemoteError

from schemas.errors import InvalidCommand


def require(method: Callable[[dict], Any], query: dict[str, str], field: str) -> Any:
    """``method(query)`` on another service; its ``NotFound`` becomes an invalid command
    naming ``field`` of the command being decided. Returns what the method returned."""
    try:
        return method(query)
    except RemoteError as error:
        if error.exc_type == "NotFound":
            raise InvalidCommand({field: [error.value]}) from None
        raise
