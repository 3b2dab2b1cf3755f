"""The year under the test clock delivers every invoice and reminder by email: it gets the same
real SMTP server (aiosmtpd) and settings as the delivery tests."""

from tests.delivery.conftest import delivery_env, mailbox

__all__ = ["delivery_env", "mailbox"]
