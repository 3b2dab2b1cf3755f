"""Event chains: "when E happens and C holds, do A (optionally some days later, if C still holds)"."""
