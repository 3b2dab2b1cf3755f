"""Kvitt: recurring invoicing, payments and accounts receivable for Swedish issuers."""

__version__ = "0.1.0"
