"""The optional second factor (TOTP): turned on with a right code only, asked after the password,
a code works once, wrong codes lock like wrong passwords and count in the login throttle, an
admin's new one-time password removes it."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from kvitt.admin import sessions, throttle, totp, users
from kvitt.admin.models import LoginThrottle, StaffUser
from kvitt.core.db import Database
from tests.admin.conftest import PASSWORD, Staff


def turn_on(staff: Staff) -> str:
    page = staff.get("/admin/tvastegs").text
    secret = re.search(r'name="secret" value="([A-Z2-7]+)"', page)
    offer = re.search(r'name="offer" value="([0-9a-f]+)"', page)
    assert secret and offer and "<svg" in page
    wrong = staff.post(
        "/admin/tvastegs", {"action": "on", "secret": secret.group(1), "offer": offer.group(1), "code": "000000"}
    )
    assert wrong.status_code == 422
    code = pyotp.TOTP(secret.group(1)).now()
    right = staff.post(
        "/admin/tvastegs", {"action": "on", "secret": secret.group(1), "offer": offer.group(1), "code": code}
    )
    assert right.status_code == 303, right.text
    return secret.group(1)


def test_a_forged_secret_is_not_taken(admin: Staff, db: Database) -> None:
    mine = pyotp.random_base32()
    code = pyotp.TOTP(mine).now()
    answer = admin.post("/admin/tvastegs", {"action": "on", "secret": mine, "offer": "00" * 32, "code": code})
    assert answer.status_code == 422
    with db.read() as session:
        assert session.scalar(select(StaffUser.totp_secret).where(StaffUser.email == "admin@norrsken.test")) is None


def test_login_asks_for_the_code_after_the_password(app: Any, admin: Staff, db: Database) -> None:
    secret = turn_on(admin)
    browser = TestClient(app, follow_redirects=False)
    first = browser.post(
        "/admin/login", data={"email": "admin@norrsken.test", "password": PASSWORD, "next": "/admin/kunder"}
    )
    assert first.status_code == 303 and first.headers["location"] == "/admin/login/kod"
    assert sessions.COOKIE not in browser.cookies and totp.PENDING_COOKIE in browser.cookies
    assert browser.get("/admin/kunder").status_code == 303  # no session yet
    assert browser.post("/admin/login/kod", data={"code": "123456"}).status_code == 401
    # A code one step ahead (the phone's clock runs a little fast) is taken; it cannot be used twice.
    code = pyotp.TOTP(secret).at(time.time() + 30)
    done = browser.post("/admin/login/kod", data={"code": code})
    assert done.status_code == 303 and done.headers["location"] == "/admin/kunder"
    assert browser.get("/admin/kunder").status_code == 200
    again = TestClient(app, follow_redirects=False)
    again.post("/admin/login", data={"email": "admin@norrsken.test", "password": PASSWORD})
    assert again.post("/admin/login/kod", data={"code": code}).status_code == 401


def test_wrong_codes_lock_the_account(app: Any, admin: Staff, db: Database) -> None:
    secret = turn_on(admin)
    browser = TestClient(app, follow_redirects=False)
    browser.post("/admin/login", data={"email": "admin@norrsken.test", "password": PASSWORD})
    for _ in range(users.MAX_FAILURES):
        assert browser.post("/admin/login/kod", data={"code": "000000"}).status_code == 401
    assert browser.post("/admin/login/kod", data={"code": pyotp.TOTP(secret).now()}).status_code == 401


def test_the_code_step_needs_the_password_step(app: Any, admin: Staff) -> None:
    turn_on(admin)
    stranger = TestClient(app, follow_redirects=False, cookies={totp.PENDING_COOKIE: "1.9999999999.2f61646d696e.00"})
    assert stranger.post("/admin/login/kod", data={"code": "123456"}).headers["location"] == "/admin/login"


def test_an_admins_new_one_time_password_removes_the_second_factor(
    app: Any, admin: Staff, staff_factory: Any, db: Database
) -> None:
    finance = staff_factory("finance")
    turn_on(finance)
    listing = admin.get("/admin/anvandare").text
    finance_id = re.findall(r'action="/admin/anvandare/(\d+)/nytt-losenord"', listing)[-1]
    page = admin.post(f"/admin/anvandare/{finance_id}/nytt-losenord").text
    one_time = re.search(r'<dd class="mono">([A-Za-z0-9]{16})</dd>', page)
    assert one_time is not None
    assert (
        Staff(app, "finance@norrsken.test", one_time.group(1)).login_response.headers["location"] == "/admin/password"
    )


def test_turning_it_off_needs_a_code(admin: Staff, db: Database) -> None:
    secret = turn_on(admin)
    assert admin.post("/admin/tvastegs", {"action": "off", "code": "000000"}).status_code == 422
    assert (
        admin.post("/admin/tvastegs", {"action": "off", "code": pyotp.TOTP(secret).at(time.time() + 30)}).status_code
        == 303
    )
    with db.read() as session:
        assert session.scalar(select(StaffUser.totp_secret).where(StaffUser.email == "admin@norrsken.test")) is None


def test_the_code_step_is_throttled_like_the_password_step(app: Any, admin: Staff) -> None:
    """A right password does not buy more code guesses: wrong codes count in the login throttle
    (kvitt.admin.throttle), which the right password no longer clears for a user with a second
    factor; at the limit the code is not tried (429 with Retry-After), the right one neither."""
    secret = turn_on(admin)
    browser = TestClient(app, follow_redirects=False)
    wrong = 0
    while wrong < throttle.ACCOUNT_LIMIT:
        # Below the account lock each round: the right password resets that count, not this one.
        assert browser.post("/admin/login", data={"email": admin.email, "password": PASSWORD}).status_code == 303
        for _ in range(min(users.MAX_FAILURES - 1, throttle.ACCOUNT_LIMIT - wrong)):
            assert browser.post("/admin/login/kod", data={"code": "000000"}).status_code == 401
            wrong += 1
    refused = browser.post("/admin/login/kod", data={"code": pyotp.TOTP(secret).at(time.time() + 30)})
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= throttle.WINDOW_SECONDS + 1
    assert "För många misslyckade inloggningar" in refused.text and sessions.COOKIE not in browser.cookies
    assert browser.post("/admin/login", data={"email": admin.email, "password": PASSWORD}).status_code == 429


def test_the_right_code_clears_the_accounts_count(app: Any, admin: Staff, db: Database) -> None:
    secret = turn_on(admin)
    browser = TestClient(app, follow_redirects=False)
    browser.post("/admin/login", data={"email": admin.email, "password": PASSWORD})
    for _ in range(users.MAX_FAILURES - 1):
        assert browser.post("/admin/login/kod", data={"code": "000000"}).status_code == 401
    keys = throttle.keys_for(admin.email, "testclient")
    assert failures(db, keys.account) == users.MAX_FAILURES - 1
    # One step ahead: turn_on used this step's code, and a code works once.
    code = pyotp.TOTP(secret).at(time.time() + 30)
    assert browser.post("/admin/login/kod", data={"code": code}).status_code == 303
    assert failures(db, keys.account) is None
    assert failures(db, keys.address) == users.MAX_FAILURES - 1  # the address's own count stays


def failures(db: Database, key: str) -> int | None:
    with db.read() as session:
        return session.scalar(select(LoginThrottle.failures).where(LoginThrottle.key == key))
