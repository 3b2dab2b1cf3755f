"""Journal entries as values, before they are stored: every one must balance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from datetime import date as Day  # EntryDraft has a field named date


class UnbalancedEntry(ValueError):
    pass


@dataclass(frozen=True)
class Posting:
    account: str
    amount: int  # öre; debit positive, credit negative
    customer_id: int | None = None
    invoice_id: int | None = None


@dataclass
class EntryDraft:
    date: date
    kind: str
    text: str
    invoice_id: int | None = None
    reverses_entry_id: int | None = None
    postings: list[Posting] = field(default_factory=list)

    def add(self, account: str, amount: int, **refs: int | None) -> None:
        if amount:
            self.postings.append(Posting(account, amount, **refs))

    def check_balanced(self) -> None:
        total = sum(posting.amount for posting in self.postings)
        if total != 0:
            raise UnbalancedEntry(f"journal entry {self.text!r} does not balance: off by {total} öre")
        if not self.postings:
            raise UnbalancedEntry(f"journal entry {self.text!r} has no postings")

    def reversed(self, *, on: Day, kind: str, text: str, entry_id: int) -> EntryDraft:
        return EntryDraft(
            date=on,
            kind=kind,
            text=text,
            invoice_id=self.invoice_id,
            reverses_entry_id=entry_id,
            postings=[Posting(p.account, -p.amount, p.customer_id, p.invoice_id) for p in self.postings],
        )
