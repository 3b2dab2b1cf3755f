"""Reports: read-only views over the ledger and the invoices (aging, KPIs, exports)."""
