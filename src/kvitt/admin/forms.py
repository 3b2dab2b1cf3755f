"""Reading a back-office form: urlencoded, bounded, and only with this session's CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

from fastapi import Request

from kvitt.admin.auth import StaffMember, check_csrf

MAX_FORM_BYTES = 64 * 1024


class FormRejected(Exception):
    def __init__(self, status_code: int, reason: str) -> None:
        self.status_code = status_code
        self.reason = reason


async def read_form(request: Request, lists: tuple[str, ...] = ()) -> dict[str, str]:
    """The form's fields (the first value of each; for a field of ``lists``, such as a group of
    checkboxes, every value joined with commas); FormRejected for other or oversized bodies."""
    body = await _body(request, "application/x-www-form-urlencoded", MAX_FORM_BYTES)
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormRejected(400, "The form could not be read") from exc
    form = {key: values[0] for key, values in parsed.items() if "\x00" not in values[0]}
    for key in lists:
        form[key] = ",".join(value for value in parsed.get(key, []) if "\x00" not in value)
    return form


async def _body(request: Request, media_type: str, limit: int) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != media_type:
        raise FormRejected(415, "Unsupported form encoding")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise FormRejected(413, "The form is too large")
    return bytes(body)


@dataclass(frozen=True)
class Upload:
    """A ``multipart/form-data`` form: its text fields and its files' bytes, by field name."""

    fields: dict[str, str]
    files: dict[str, bytes]
    filenames: dict[str, str]  # the name the browser gave each file (its last path part)


async def read_upload(request: Request, limit: int) -> Upload:
    """A form with a file (``enctype="multipart/form-data"``), read whole but never beyond
    ``limit`` bytes (FormRejected 413). Parsed by the standard library's MIME parser: the body is
    a MIME multipart message once its Content-Type header is put in front of it."""
    body = await _body(request, "multipart/form-data", limit)
    head = f"Content-Type: {request.headers['content-type']}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        raise FormRejected(400, "The form could not be read")
    upload = Upload({}, {}, {})
    for part in message.iter_parts():
        _take_part(part, upload)
    return upload


def _take_part(part: Message, upload: Upload) -> None:
    name = part.get_param("name", header="content-disposition")
    if not isinstance(name, str) or name in upload.fields or name in upload.files:  # the first of each
        return
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    filename = part.get_filename()
    if filename is not None:
        upload.files[name] = data
        upload.filenames[name] = filename.replace("\\", "/").rsplit("/", 1)[-1].replace("\x00", "")[:255]
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormRejected(400, "The form could not be read") from exc
    if "\x00" not in text:
        upload.fields[name] = text


async def staff_upload(request: Request, staff: StaffMember, limit: int) -> Upload:
    """A staff member's form with a file, refused (Forbidden) without its CSRF token."""
    upload = await read_upload(request, limit)
    check_csrf(request, staff, upload.fields.get("csrf", ""))
    return upload


async def staff_form(request: Request, staff: StaffMember, lists: tuple[str, ...] = ()) -> dict[str, str]:
    """The form of a logged-in staff member, refused (Forbidden) without its CSRF token."""
    form = await read_form(request, lists)
    check_csrf(request, staff, form.get("csrf", ""))
    return form
