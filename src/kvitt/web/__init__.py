"""The recipient's web invoice and self-service pages, reached by an unguessable token."""
