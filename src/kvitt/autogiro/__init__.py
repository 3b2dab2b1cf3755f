"""Autogiro: mandates, debits on the due date and the files exchanged with Bankgirot."""
