"""Event-chain jobs (being written)."""
