"""Random secrets: API keys and web-invoice tokens."""

from __future__ import annotations

import hashlib
import secrets

API_KEY_PREFIX = "kv_live_"
# 24 random bytes = 192 bits, written in 32 URL-safe characters.
WEB_TOKEN_BYTES = 24


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # API keys carry 256 random bits, so a fast hash is enough: there is nothing to guess.
    return hashlib.sha256(key.encode()).hexdigest()


def new_web_token() -> str:
    return secrets.token_urlsafe(WEB_TOKEN_BYTES)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
