"""Staff users: create, log in (throttled), change password, role and access."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kvitt.admin import passwords, sessions
from kvitt.admin.audit import Actor, audit, audit_changes
from kvitt.admin.models import ROLES, StaffUser
from kvitt.core.db import utcnow
from kvitt.core.errors import Conflict, KvittError, NotFound, ValidationFailed
from kvitt.tenants.models import Tenant

# After this many failed logins in a row, the account waits LOCK_MINUTES before the next try.
MAX_FAILURES = 5
LOCK_MINUTES = 15


@dataclass(frozen=True)
class Created:
    user: StaffUser
    password: str | None  # the one-time password, when none was given


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _check(email: str, role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", param="role")
    _check_email(email)


def _check_email(email: str) -> None:
    if "@" not in email or len(email) > 254 or " " in email:
        raise ValidationFailed("email is not an e-mail address", param="email")


def _refuse_taken(session: Session, email: str) -> None:
    """The login name is unique across the installation (the login form names no tenant)."""
    if session.scalar(select(func.count()).where(StaffUser.email == email)):
        raise Conflict(f"a staff user with e-mail {email} exists already", param="email")


def create_user(
    session: Session, tenant_id: int, email: str, role: str, *, password: str | None = None, name: str = ""
) -> Created:
    """A new staff user; without a password, a one-time password that must be changed at first login."""
    email = normalise_email(email)
    _check(email, role)
    if session.get(Tenant, tenant_id) is None:
        raise NotFound(f"no tenant {tenant_id}")
    _refuse_taken(session, email)
    one_time = None
    if password is None:
        password = one_time = passwords.one_time_password()
    elif (problem := passwords.problem_with(password)) is not None:
        raise ValidationFailed(f"password refused: {problem}", param="password")
    user = StaffUser(
        tenant_id=tenant_id,
        email=email,
        name=name,
        role=role,
        password_hash=passwords.hash_password(password),
        must_change_password=one_time is not None,
        session_key=sessions.new_session_key(),
        active=True,
        language="sv",
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    return Created(user, one_time)


def authenticate(session: Session, email: str, password: str, now: datetime | None = None) -> StaffUser | None:
    """The user when the password is right and the account neither locked nor inactive; every
    failure counts, and MAX_FAILURES in a row lock the account for LOCK_MINUTES."""
    now = now or utcnow()
    user = session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)).with_for_update())
    if user is not None and user.locked_until is not None and user.locked_until > now:
        passwords.verify(None, password)  # the same time as any other answer
        return None
    if not passwords.verify(user.password_hash if user else None, password) or user is None or not user.active:
        if user is not None:
            count_failure(user, now)
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def count_failure(user: StaffUser, now: datetime | None = None) -> None:
    """One more failed login (a wrong password or second-factor code); MAX_FAILURES in a row lock."""
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILURES:
        user.locked_until = (now or utcnow()) + timedelta(minutes=LOCK_MINUTES)
        user.failed_logins = 0


def change_password(session: Session, user: StaffUser, current: str, new: str) -> str | None:
    """Sets a new password (and ends every other session); the problem's code if refused."""
    if not passwords.verify(user.password_hash, current):
        return "wrong_password"
    if (problem := passwords.problem_with(new)) is not None:
        return problem
    if new == current:
        return "password_unchanged"
    user.password_hash = passwords.hash_password(new)
    user.must_change_password = False
    user.session_key = sessions.new_session_key()
    return None


def end_sessions(user: StaffUser) -> None:
    user.session_key = sessions.new_session_key()


def list_users(session: Session, tenant_id: int) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).where(StaffUser.tenant_id == tenant_id).order_by(StaffUser.email)))


def get_user(session: Session, tenant_id: int, user_id: int) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.tenant_id == tenant_id, StaffUser.id == user_id))
    if user is None:
        raise NotFound(f"no staff user {user_id}")
    return user


def _admins_left(session: Session, tenant_id: int, without: int) -> int:
    query = select(func.count()).where(
        StaffUser.tenant_id == tenant_id, StaffUser.role == "admin", StaffUser.active.is_(True), StaffUser.id != without
    )
    return int(session.scalar(query) or 0)


def update_user(
    session: Session, actor: Actor, user_id: int, *, role: str | None = None, active: bool | None = None
) -> StaffUser:
    """Another role or access for a user of the actor's tenant; the last active admin stays one."""
    user = get_user(session, actor.tenant_id, user_id)
    before = {"role": user.role, "active": user.active}
    if role is not None and role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", param="role")
    losing_admin = user.role == "admin" and ((role is not None and role != "admin") or active is False)
    if losing_admin and _admins_left(session, actor.tenant_id, user.id) == 0:
        raise KvittError("the last active admin cannot lose the role or access")
    if role is not None:
        user.role = role
    if active is not None and active != user.active:
        user.active = active
        if not active:
            end_sessions(user)
    after = {"role": user.role, "active": user.active}
    if after != before:
        audit(session, actor, "user.update", before, after, target=f"staff_user:{user.id}")
    return user


MAX_NAME = 200  # as the column


def update_details(
    session: Session, actor: Actor, user_id: int, *, name: str | None = None, email: str | None = None
) -> StaffUser:
    """A user's name and e-mail address (the login name), for the user themself or an admin of
    their tenant: the address checked and unique across the installation as ``create_user``
    checks it (an address another user has is refused; so is one taken in a race, by the unique index)."""
    user = get_user(session, actor.tenant_id, user_id)
    before = {"name": user.name, "email": user.email}
    if email is not None:
        email = normalise_email(email)
        _check_email(email)
        if email != user.email:
            _refuse_taken(session, email)
            user.email = email
    if name is not None:
        name = name.strip()
        if len(name) > MAX_NAME:
            raise ValidationFailed(f"name: at most {MAX_NAME} characters", param="name")
        user.name = name
    try:
        session.flush()
    except IntegrityError:  # another user took the address meanwhile: the whole action rolls back
        raise Conflict(f"a staff user with e-mail {user.email} exists already", param="email") from None
    after = {"name": user.name, "email": user.email}
    audit_changes(session, actor, "user.update", before, after, target=f"staff_user:{user.id}")
    return user


def reset_password(session: Session, actor: Actor, user_id: int) -> str:
    """A new one-time password for a user (shown once to the admin), every session ended."""
    user = get_user(session, actor.tenant_id, user_id)
    password = passwords.one_time_password()
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    # A lost phone is the usual reason: the second factor goes too (they may turn it on again).
    had_totp = user.totp_secret is not None
    user.totp_secret = None
    user.totp_last_step = None
    end_sessions(user)
    after = {"must_change_password": True, "totp_removed": had_totp}
    audit(session, actor, "user.reset_password", None, after, target=f"staff_user:{user.id}")
    return password


DEMO_EMAIL = "demo@kvitt.local"


def ensure_demo_user(session: Session, tenant_id: int) -> str:
    """The demo's admin ``demo@kvitt.local`` with a fresh password (returned, to be printed):
    passwords are stored hashed, so each demo start sets a new one, as it mints a new API key."""
    password = passwords.one_time_password()
    user = session.scalar(select(StaffUser).where(StaffUser.email == DEMO_EMAIL))
    if user is None:
        create_user(session, tenant_id, DEMO_EMAIL, "admin", password=password, name="Demo")
        return password
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = False
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
    end_sessions(user)
    return password
