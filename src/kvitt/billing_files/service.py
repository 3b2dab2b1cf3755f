"""Importing a billing file: check all of it, then apply all of it in one go, or nothing.

The file is read from disk twice, streaming (memory holds one batch of invoices, never the
file). The first pass checks every row (the codec), every customer (as the customers API
would) and every invoice (as the invoices API would), collecting up to ``ERROR_LIMIT``
errors, each with its line and field, and writes nothing. The second pass, only for a file
without errors, upserts the customers and creates the invoices, ``BATCH`` invoices per
``create_and_issue`` call, all in the caller's one transaction: a failure rolls all of it back.

Dedupe: the same bytes again are the same file (content hash, unique per tenant): nothing new,
the earlier file is returned. An ``invoice_ref`` invoiced by an earlier file is skipped and
listed on the file (``skipped``, ``skipped_refs``); the unique key on (tenant, invoice_ref)
makes this hold under concurrent imports too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kvitt.billing_files.models import BillingFile, InvoiceRef
from kvitt.catalog.models import Item
from kvitt.core.db import any_of, bulk_insert, is_postgresql
from kvitt.core.errors import Conflict, NotFound, ValidationFailed
from kvitt.core.pagination import Page, paginate
from kvitt.customers import service as customers
from kvitt.customers.schemas import CustomerCreate
from kvitt.formats import billing_file as codec
from kvitt.invoices import service as invoices
from kvitt.invoices.models import Invoice
from kvitt.invoices.schemas import InfoBlock, InvoiceCreate, LineIn
from kvitt.tenants.models import Tenant

BATCH = 5000
IMPORT_LOCK = 0x4B42  # advisory-lock namespace for billing-file imports ("KB")
ERROR_LIMIT = 100
SKIPPED_LIMIT = 100
Progress = Callable[[int], None]  # called with the bytes read so far (both passes counted)


@dataclass(frozen=True)
class Options:
    issue: bool = False  # True: issue the invoices at once; False: leave them as drafts to check
    upsert_customers: bool = True  # False: every customer must exist already


@dataclass
class ImportOutcome:
    file: BillingFile
    already_imported: bool


@dataclass
class _Reading:
    """One streaming pass over the file, counting bytes for the progress bar."""

    path: Path
    progress: Progress | None
    done: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    digest: Any = field(default_factory=hashlib.sha256)

    def lines(self) -> Iterator[bytes]:
        reported = 0
        with self.path.open("rb") as handle:
            for line in handle:
                self.done += len(line)
                self.digest.update(line)
                if self.progress is not None and self.done - reported >= 1 << 20:
                    self.progress(self.done)
                    reported = self.done
                yield line
        if self.progress is not None:
            self.progress(self.done)


def import_billing_file(
    session: Session,
    tenant: Tenant,
    path: Path,
    *,
    mapping: codec.Mapping = codec.CANONICAL,
    options: Options = Options(),
    filename: str | None,
    source: str,
    today: date,
    actor: str,
    progress: Progress | None = None,
) -> ImportOutcome:
    digest, size = file_hash(path)
    _serialise(session, tenant)
    known = session.scalar(
        select(BillingFile).where(BillingFile.tenant_id == tenant.id, BillingFile.content_hash == digest)
    )
    if known is not None and known.state != "rejected":
        return ImportOutcome(known, already_imported=True)
    # A file rejected before is checked again: the tenant may have added the missing customers.
    first = _Reading(path, progress)
    rows = _validate(session, tenant, first, mapping, options)
    if first.errors:
        raise refusal(first.errors)
    file = known or BillingFile(tenant_id=tenant.id, content_hash=digest)
    _describe(file, size=size, filename=filename, source=source, mapping=mapping, options=options)
    file.rows = rows
    session.add(file)
    session.flush()
    second = _Reading(path, _offset(progress, first.done))
    _apply(session, tenant, file, second, mapping, options, today=today, actor=actor)
    session.flush()
    return ImportOutcome(file, already_imported=False)


def _serialise(session: Session, tenant: Tenant) -> None:
    """One billing-file import at a time per tenant, so that a second one sees what the first
    committed (the same file, its refs, its new customers) and skips it rather than failing on
    the unique keys. PostgreSQL: a transaction-scoped advisory lock; SQLite serialises writers
    already (BEGIN IMMEDIATE). The unique keys stay the guarantee; this makes the outcome clean."""
    if is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": IMPORT_LOCK, "key": tenant.id})


def file_hash(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _offset(progress: Progress | None, offset: int) -> Progress | None:
    if progress is None:
        return None
    return lambda done: progress(offset + done)


def _describe(
    file: BillingFile, *, size: int, filename: str | None, source: str, mapping: codec.Mapping, options: Options
) -> None:
    file.size = size
    file.filename = filename
    file.source = source
    file.format = mapping.kind
    file.mapping = mapping.name
    file.issue = options.issue
    file.state = "imported"
    file.errors = []
    file.skipped_refs = []
    file.rows = file.invoices = file.skipped = file.customers_created = file.customers_updated = 0
    file.total = 0


def refusal(errors: list[dict[str, Any]]) -> ValidationFailed:
    first = errors[0]
    more = f" (and {len(errors) - 1} more: see errors)" if len(errors) > 1 else ""
    limit = f"; checking stopped after {ERROR_LIMIT} errors" if len(errors) >= ERROR_LIMIT else ""
    return ValidationFailed(
        f"the file was not imported: line {first['line']}, {first['field']}: {first['message']}{more}{limit}",
        param=f"line {first['line']}: {first['field']}",
        code="invalid_file",
        extra={"errors": errors},
    )


def _error(line: int, field_name: str, message: str) -> dict[str, Any]:
    return {"line": line, "field": field_name, "message": message}


# --- the first pass: check everything, write nothing ---------------------------------------------


def _batches(reading: _Reading, mapping: codec.Mapping) -> Iterator[list[codec.Invoice]]:
    batch: list[codec.Invoice] = []
    for result in codec.read(reading.lines(), mapping):
        if isinstance(result, codec.BillingFileError):
            reading.errors.append(_error(result.line, result.field, result.message))
            if len(reading.errors) >= ERROR_LIMIT:
                return
            continue
        batch.append(result)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _validate(session: Session, tenant: Tenant, reading: _Reading, mapping: codec.Mapping, options: Options) -> int:
    rows = 0
    for batch in _batches(reading, mapping):
        rows += sum(len(invoice.lines) for invoice in batch)
        known = customers.ids_by_number(session, tenant, {i.customer.customer_no for i in batch})
        for invoice in batch:
            for problem in _check(invoice, known, options):
                reading.errors.append(problem)
        if len(reading.errors) >= ERROR_LIMIT:
            del reading.errors[ERROR_LIMIT:]
            break
    return rows


def _check(invoice: codec.Invoice, known: dict[str, int], options: Options) -> list[dict[str, Any]]:
    """What the API would refuse about this invoice and its customer, as errors on its first line."""
    problems = []
    number = invoice.customer.customer_no
    if number not in known:
        if not options.upsert_customers:
            problems.append(
                _error(invoice.line, "customer_no", f"no customer {number} (creating customers from the file is off)")
            )
        elif invoice.customer.name is None:
            problems.append(_error(invoice.line, "customer_name", f"customer {number} is new and needs a name"))
    if options.upsert_customers:
        try:
            customer_input(invoice.customer)
        except ValidationError as exc:
            problems += _pydantic_errors(invoice.line, exc, customer_field)
    try:
        invoice_input(invoice, customer_id=1, items={})
    except ValidationError as exc:
        problems += _pydantic_errors(invoice.line, exc, lambda loc: ".".join(str(p) for p in loc))
    return problems


_CUSTOMER_FIELDS = {"name": "customer_name", "address_line1": "address"}


def customer_field(loc: tuple[int | str, ...]) -> str:
    name = str(loc[0]) if loc else "customer"
    return _CUSTOMER_FIELDS.get(name, name)


def _pydantic_errors(
    line: int, exc: ValidationError, where: Callable[[tuple[int | str, ...]], str]
) -> list[dict[str, Any]]:
    return [_error(line, where(tuple(e["loc"])), str(e["msg"]).removeprefix("Value error, ")) for e in exc.errors()]


# --- turning the file's rows into the API's inputs ----------------------------------------------


def customer_input(customer: codec.Customer) -> CustomerCreate:
    """The customer as the customers API takes it: only the fields the file gives are set."""
    given: dict[str, Any] = {
        "customer_no": customer.customer_no,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "id_number": customer.id_number,
        "address_line1": customer.address,
        "postal_code": customer.postal_code,
        "city": customer.city,
        "delivery_method": customer.delivery_method,
    }
    fields = {key: value for key, value in given.items() if value is not None}
    if customer.id_number is not None:
        fields["type"] = _customer_type(customer.id_number)
    fields.setdefault("name", customer.customer_no)  # only used to check; a new customer needs its name
    return CustomerCreate(**fields)


def _customer_type(id_number: str) -> str:
    """Organisation numbers have a month of 20 or more (Bolagsverket): that is a company."""
    digits = "".join(ch for ch in id_number if ch.isdigit())
    if len(digits) == 12 and digits.startswith("16"):
        digits = digits[2:]
    return "company" if len(digits) == 10 and digits[2] >= "2" else "individual"


def invoice_input(invoice: codec.Invoice, *, customer_id: int, items: dict[str, int]) -> InvoiceCreate:
    """The invoice as the invoices API takes it (validated: pydantic's validating constructor
    is faster here than ``model_construct``, measured, so both passes use it)."""
    return InvoiceCreate(
        customer=customer_id,
        invoice_date=invoice.invoice_date,
        due_date=invoice.due_date,
        lines=[
            LineIn(
                item=items.get(line.item_no) if line.item_no else None,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price_ore,
                vat_rate=line.vat_rate,
            )
            for line in invoice.lines
        ],
        info=[InfoBlock(title=block.title, text=block.text) for block in invoice.info],
        metadata={"invoice_ref": invoice.invoice_ref},
    )


# --- the second pass: apply ----------------------------------------------------------------------


def _apply(
    session: Session,
    tenant: Tenant,
    file: BillingFile,
    reading: _Reading,
    mapping: codec.Mapping,
    options: Options,
    *,
    today: date,
    actor: str,
) -> None:
    for batch in _batches(reading, mapping):
        if reading.errors:  # the file changed on disk between the passes
            raise refusal(reading.errors)
        fresh = _not_invoiced_before(session, tenant, file, batch)
        if not fresh:
            continue
        ids = _customer_ids(session, tenant, file, fresh, options)
        items = _items_by_number(session, tenant, {ln.item_no for i in fresh for ln in i.lines if ln.item_no})
        inputs = [invoice_input(i, customer_id=ids[i.customer.customer_no], items=items) for i in fresh]
        invoice_ids = _create(session, tenant, inputs, options, today=today, actor=actor)
        refs = [
            {"tenant_id": tenant.id, "invoice_ref": i.invoice_ref, "file_id": file.id, "invoice_id": invoice_id}
            for i, invoice_id in zip(fresh, invoice_ids, strict=True)
        ]
        try:
            with session.begin_nested():
                bulk_insert(session, InvoiceRef, refs)
        except IntegrityError:
            raise Conflict(
                "another import created some of these invoice refs at the same time; retry the file",
                code="billing_file_conflict",
            ) from None
        file.invoices += len(invoice_ids)
        file.total += _sum_of_totals(session, tenant, invoice_ids)
    if reading.errors:
        raise refusal(reading.errors)
    if reading.digest.hexdigest() != file.content_hash:
        # What was applied is not what was checked: roll it all back (the caller's transaction).
        raise ValidationFailed("the file changed while it was being imported; send it again", param="body")


def _not_invoiced_before(
    session: Session, tenant: Tenant, file: BillingFile, batch: list[codec.Invoice]
) -> list[codec.Invoice]:
    refs = {invoice.invoice_ref for invoice in batch}
    query = select(InvoiceRef.invoice_ref).where(
        InvoiceRef.tenant_id == tenant.id, any_of(session, InvoiceRef.invoice_ref, refs)
    )
    done = set(session.scalars(query))
    if done:
        file.skipped += len(done)
        room = SKIPPED_LIMIT - len(file.skipped_refs)
        if room > 0:
            file.skipped_refs = [*file.skipped_refs, *sorted(done)[:room]]
    return [invoice for invoice in batch if invoice.invoice_ref not in done]


def _customer_ids(
    session: Session, tenant: Tenant, file: BillingFile, batch: list[codec.Invoice], options: Options
) -> dict[str, int]:
    if not options.upsert_customers:
        ids = customers.ids_by_number(session, tenant, {i.customer.customer_no for i in batch})
        missing = [i for i in batch if i.customer.customer_no not in ids]
        if missing:  # deleted between the passes
            raise refusal([_error(missing[0].line, "customer_no", f"no customer {missing[0].customer.customer_no}")])
        return ids
    inputs = []
    for invoice in batch:
        data = customer_input(invoice.customer)
        if invoice.customer.name is None:
            data.__pydantic_fields_set__.discard("name")  # keep the stored name
        inputs.append(data)
    upserted = customers.upsert_by_number(session, tenant, inputs)
    file.customers_created += upserted.created
    file.customers_updated += upserted.updated
    return upserted.ids


def _items_by_number(session: Session, tenant: Tenant, numbers: set[str]) -> dict[str, int]:
    """Catalog items named by the file's item_no (the line then books on the item's account)."""
    if not numbers:
        return {}
    query = select(Item.article_no, Item.id).where(
        Item.tenant_id == tenant.id, any_of(session, Item.article_no, numbers)
    )
    return {number: item_id for number, item_id in session.execute(query)}


def _create(
    session: Session, tenant: Tenant, inputs: list[InvoiceCreate], options: Options, *, today: date, actor: str
) -> list[int]:
    if options.issue:
        return invoices.create_and_issue(session, tenant, inputs, today=today, actor=actor)
    return [draft.id for draft in invoices.create_drafts(session, tenant, inputs, actor=actor)]


def _sum_of_totals(session: Session, tenant: Tenant, invoice_ids: list[int]) -> int:
    query = select(func.coalesce(func.sum(Invoice.total), 0)).where(
        Invoice.tenant_id == tenant.id, any_of(session, Invoice.id, invoice_ids)
    )
    return int(session.scalar(query) or 0)


# --- reading ------------------------------------------------------------------------------------


def record_rejection(
    session: Session,
    tenant: Tenant,
    path: Path,
    *,
    mapping: codec.Mapping,
    options: Options,
    filename: str | None,
    source: str,
    error: ValidationFailed,
) -> BillingFile:
    """Remember a file that failed its checks (the inbox), so that staff see why."""
    digest, size = file_hash(path)
    file = session.scalar(
        select(BillingFile).where(BillingFile.tenant_id == tenant.id, BillingFile.content_hash == digest)
    ) or BillingFile(tenant_id=tenant.id, content_hash=digest)
    _describe(file, size=size, filename=filename, source=source, mapping=mapping, options=options)
    file.state = "rejected"
    file.errors = error.extra.get("errors") or [_error(0, error.param or "file", error.message)]
    session.add(file)
    session.flush()
    return file


def get_file(session: Session, tenant: Tenant, file_id: int) -> BillingFile:
    file = session.scalar(select(BillingFile).where(BillingFile.tenant_id == tenant.id, BillingFile.id == file_id))
    if file is None:
        raise NotFound(f"no billing file {file_id}", param="id")
    return file


def list_files(session: Session, tenant: Tenant, *, limit: int, starting_after: int | None) -> Page[BillingFile]:
    query = select(BillingFile).where(BillingFile.tenant_id == tenant.id)
    return paginate(session, query, BillingFile.id, limit=limit, starting_after=starting_after)
