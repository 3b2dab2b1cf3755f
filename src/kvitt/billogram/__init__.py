"""A Billogram v2 compatible API at ``/api/billogram/v2``: a translation layer over the same
services as ``/api/v1`` (docs/billogram-compat.md)."""
