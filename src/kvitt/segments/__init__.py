"""Segments: named rules over customers and their behaviour (the one rule language: rules.py)."""
