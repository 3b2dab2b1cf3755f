"""Billing files: the issuer's invoice data in (canonical CSV, JSON Lines or a mapped layout),
issued invoices out; validated whole before anything is applied, applied all or nothing, once."""
