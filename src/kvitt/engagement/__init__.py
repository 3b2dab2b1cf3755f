"""Engagement: offers, information blocks and surveys on the invoice, measured."""
