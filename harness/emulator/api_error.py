"""`ApiError`: a Platform API error answer, raised by the emulator's rules and rendered by `api.py`.

Its own module because the state, the sizes, the control plane and the HTTP
layer all raise it, and the rules must stay testable without a socket.
"""

from __future__ import annotations

__all__ = ["ApiError", "invalid", "not_found"]


class ApiError(Exception):
    """A Platform API error answer: HTTP `status`, Heroku error `error_id`, human `message`."""

    def __init__(self, status: int, error_id: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message


def not_found(what: str) -> ApiError:
    """404 `not_found` with Heroku's wording: "Couldn't find that app."."""
    return ApiError(404, "not_found", f"Couldn't find that {what}.")


def invalid(message: str) -> ApiError:
    """422 `invalid_params` with `message`."""
    return ApiError(422, "invalid_params", message)
