"""Pay on the spot: payment requests (Swish, card) made from the web invoice, booked as payments."""
