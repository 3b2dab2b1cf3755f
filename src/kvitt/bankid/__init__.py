"""BankID: the Relying Party API v6 client, the animated QR code, the autostart link, and the sign orders
of the web invoice's autogiro sign-up (docs/bankid.md)."""
