"""Reading a back-office form: urlencoded, bounded, and only with this session's CSRF token."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

from kvitt.admin.auth import StaffMember, check_csrf

MAX_FORM_BYTES = 64 * 1024


class FormRejected(Exception):
    def __init__(self, status_code: int, reason: str) -> None:
        self.status_code = status_code
        self.reason = reason


async def read_form(request: Request) -> dict[str, str]:
    """The form's fields (the first value of each); FormRejected for other or oversized bodies."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise FormRejected(415, "Unsupported form encoding")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormRejected(413, "The form is too large")
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormRejected(400, "The form could not be read") from exc
    return {key: values[0] for key, values in parsed.items() if "\x00" not in values[0]}


async def staff_form(request: Request, staff: StaffMember) -> dict[str, str]:
    """The form of a logged-in staff member, refused (Forbidden) without its CSRF token."""
    form = await read_form(request)
    check_csrf(request, staff, form.get("csrf", ""))
    return form
