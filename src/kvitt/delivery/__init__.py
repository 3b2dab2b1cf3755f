"""Delivery: invoices and reminders to customers by email, SMS, letter or Peppol e-invoice.

See docs/delivery.md. ``service`` is what other features call (``request_delivery``,
``notify_staff``); ``jobs`` is what the worker runs; ``channels`` are the adapters.
"""
