"""The delivery tests' real SMTP server (aiosmtpd) and settings, for the letter-fallback chain."""

from tests.delivery.conftest import delivery_env, mailbox  # noqa: F401
