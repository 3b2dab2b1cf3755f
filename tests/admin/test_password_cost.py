"""Tests hash staff passwords cheaply (tests/conftest.py's ``cheap_password_hashes``); the
application's own hasher keeps the cost it was chosen with."""

from __future__ import annotations

from argon2 import Type
from argon2.profiles import RFC_9106_LOW_MEMORY

from kvitt.admin import passwords
from tests.conftest import CHEAP_HASHER, PRODUCTION_HASHER


def test_production_hashes_with_argon2id_at_rfc_9106s_low_memory_cost() -> None:
    params = PRODUCTION_HASHER._parameters
    assert params.type is Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost,
        RFC_9106_LOW_MEMORY.memory_cost,
        RFC_9106_LOW_MEMORY.parallelism,
    )


def test_the_tests_use_the_cheap_hasher_and_it_still_checks_passwords() -> None:
    assert passwords._hasher is CHEAP_HASHER
    stored = passwords.hash_password("rätt-häst-batteri")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "rätt-häst-batteri")
    assert not passwords.verify(stored, "fel-häst-batteri")
    assert not passwords.verify(None, "rätt-häst-batteri")
