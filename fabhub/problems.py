"""The hub's refusal type, free of Flask so the library and the CLI can raise it too."""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """A refusal that an API answers with: HTTP status, stable code, message, details.

    The message says what was wrong and what to do; nothing has changed when one
    is raised.
    """

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details if details is not None else {}
