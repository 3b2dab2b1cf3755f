"""API keys resolved from a small in-process cache, so that a request does not ask the database
who is calling every time.

An entry maps a key's SHA-256 to its tenant (a detached copy of the row, read by read-only
requests; writing requests load the row again in their own transaction). Revocation is honoured
two ways:

- in the process that revokes (``tenants.service.revoke_api_key``), the entry is dropped at once
  and again when the revoking transaction commits;
- in every other process (``kvitt serve --workers N``, several machines), an entry is used for at
  most ``MAX_AGE_SECONDS`` after it was read from the database: a revoked key is refused within
  that bound everywhere.

A tenant's settings changed through ``tenants.service.update_settings`` drop that tenant's
entries the same way. Unknown keys are not cached (a wrong key always asks the database).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached

from kvitt.tenants.models import ApiKey, Tenant

# The documented bound (docs/api.md): a key revoked in another process is refused at most this
# many seconds later.
MAX_AGE_SECONDS = 5.0
MAX_ENTRIES = 10_000

# The clock, a module attribute so that a test can move it.
monotonic = time.monotonic


@dataclass(frozen=True)
class CachedKey:
    tenant: Tenant  # detached, shared: read it, never change it or add it to a session
    loaded_at: float


_entries: OrderedDict[str, CachedKey] = OrderedDict()
_lock = threading.Lock()


def get(key_hash: str) -> Tenant | None:
    """The tenant of a key seen less than MAX_AGE_SECONDS ago; None means: ask the database."""
    with _lock:
        entry = _entries.get(key_hash)
        if entry is None:
            return None
        if monotonic() - entry.loaded_at >= MAX_AGE_SECONDS:
            del _entries[key_hash]
            return None
        return entry.tenant


def put(key_hash: str, tenant: Tenant, loaded_at: float) -> Tenant:
    """Remember ``tenant`` (a row just read) for ``key_hash``; returns the detached copy stored.

    ``loaded_at`` is the clock before the row was read, so that an entry's age never understates
    how old its data is."""
    snapshot = detached_copy(tenant)
    with _lock:
        _entries[key_hash] = CachedKey(snapshot, loaded_at)
        _entries.move_to_end(key_hash)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return snapshot


def forget_key(key_hash: str) -> None:
    with _lock:
        _entries.pop(key_hash, None)


def forget_tenant(tenant_id: int) -> None:
    with _lock:
        for key_hash in [h for h, entry in _entries.items() if entry.tenant.id == tenant_id]:
            del _entries[key_hash]


def clear() -> None:
    with _lock:
        _entries.clear()


def forget_on_commit(session: Session, *, key_hash: str | None = None, tenant_id: int | None = None) -> None:
    """Drop the entries now and again once ``session`` commits (a request that raced the change
    may have cached the old row in between)."""

    def forget(_: Any = None) -> None:
        if key_hash is not None:
            forget_key(key_hash)
        if tenant_id is not None:
            forget_tenant(tenant_id)

    forget()
    event.listen(session, "after_commit", forget, once=True)


def detached_copy(tenant: Tenant) -> Tenant:
    """A copy of the loaded row that belongs to no session (no lazy loads, no flushes)."""
    values = {attr.key: getattr(tenant, attr.key) for attr in inspect(Tenant).column_attrs}
    copy = Tenant(**values)
    make_transient_to_detached(copy)
    return copy


class ApiKeyAuthenticator:
    """The request wrapper's authenticator (``kvitt.core.api.Authenticator``): API keys against
    the tenants table, through the cache above."""

    def cached(self, key_hash: str) -> Tenant | None:
        return get(key_hash)

    def load(self, session: Session, key_hash: str) -> Tenant | None:
        loaded_at = monotonic()
        tenant = session.scalar(
            select(Tenant)
            .join(ApiKey, ApiKey.tenant_id == Tenant.id)
            .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )
        if tenant is not None:
            put(key_hash, tenant, loaded_at)
        return tenant

    def reload(self, session: Session, tenant: Tenant) -> Tenant:
        return session.get_one(Tenant, tenant.id)


AUTHENTICATOR = ApiKeyAuthenticator()
