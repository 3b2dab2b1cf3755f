"""Errors the API turns into ``{"error": {"type", "code", "message", "param"}}``."""

from __future__ import annotations

from typing import Any


class KvittError(Exception):
    status_code = 400
    error_type = "invalid_request_error"
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.extra = extra or {}

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "type": self.error_type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
        }
        error.update(self.extra)
        return {"error": error}


class ValidationFailed(KvittError):
    status_code = 422
    code = "invalid_value"


class NotFound(KvittError):
    status_code = 404
    code = "resource_missing"


class Conflict(KvittError):
    status_code = 409
    code = "conflict"


class InvalidState(Conflict):
    """An action the object's state does not allow; carries what it does allow."""

    code = "invalid_state"

    def __init__(self, message: str, *, available_actions: list[str]) -> None:
        super().__init__(message, extra={"available_actions": available_actions})


class InternalError(KvittError):
    status_code = 500
    error_type = "api_error"
    code = "internal_error"


class AuthenticationFailed(KvittError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"
