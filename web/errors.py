"""The one error the web layer raises for a request it cannot serve: a status and a sentence."""

from __future__ import annotations


class InputError(Exception):
    """A request the server refuses; the page shows ``message``, the client gets ``status``.

    Args:
        message: what was wrong, where, and what is allowed.
        status: the HTTP status (400 bad input, 404 not found, 409 not now, 413 too large).
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
