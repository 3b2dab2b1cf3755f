"""The back office at ``/admin``: staff accounts, sessions, roles, the audit log and the pages
where the issuer's finance, support and marketing people work (docs/admin.md).

``install(app)`` adds its routes (``routers()``) and error handlers (``install_errors(app)``).
The *Översikt* page at ``/admin`` is ``kvitt.admin.dashboard.router`` when that module exists
(the KPI dashboard, with its template ``admin/dashboard.html``); until then a placeholder. A page
module's router holds its routes; every route takes ``require_staff(*roles)`` and renders with
``render.page``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any


def install(app: Any) -> None:
    """Add the back office's routes and error handlers to ``app``."""
    for router in routers():
        app.include_router(router)
    install_errors(app)


def routers() -> list[Any]:
    """The back office's routers, in the order they match (kvitt.app builds them once)."""
    from fastapi import APIRouter

    from kvitt.admin import pages, routes

    if importlib.util.find_spec("kvitt.admin.dashboard") is not None:
        first = importlib.import_module("kvitt.admin.dashboard").router
    else:
        first = APIRouter(include_in_schema=False)
        first.add_api_route("/admin", routes.overview_placeholder, methods=["GET"])
    return [first, routes.router, *pages.routers()]


def install_errors(app: Any) -> None:
    """The back office's error handlers (login required, forbidden, ...), the app's own."""
    from kvitt.admin import routes

    routes.install_errors(app)
