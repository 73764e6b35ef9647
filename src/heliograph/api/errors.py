"""The one exception API handlers raise to answer with an error."""

from __future__ import annotations


class ApiError(Exception):
    """Answer ``status`` with ``{"detail": detail}``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
