"""The invoice as documents: the PDF (screen and print) and the Peppol BIS Billing 3.0 e-invoice."""
