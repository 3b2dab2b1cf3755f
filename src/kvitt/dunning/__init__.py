"""Dunning: reminders, fees, late interest, pauses, extensions, instalment plans, collection."""
