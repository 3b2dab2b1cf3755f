"""Webhooks: the tenant's own systems follow along, signed, retried for three days and logged."""
