"""The back office at ``/admin``: staff accounts, sessions, roles, the audit log and the pages
where the issuer's finance, support and marketing people work (docs/admin.md).

``install(app)`` adds its routes and error handlers. The *Översikt* page at ``/admin`` is
``kvitt.admin.dashboard.router`` when that module exists (the KPI dashboard, with its template
``admin/dashboard.html``); until then a placeholder. A page module's router holds its routes; every
route takes ``require_staff(*roles)`` and renders with ``render.page``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any


def install(app: Any) -> None:
    from fastapi import APIRouter

    from kvitt.admin import pages, routes

    if importlib.util.find_spec("kvitt.admin.dashboard") is not None:
        dashboard = importlib.import_module("kvitt.admin.dashboard")
        app.include_router(dashboard.router)
    else:
        placeholder = APIRouter(include_in_schema=False)
        placeholder.add_api_route("/admin", routes.overview_placeholder, methods=["GET"])
        app.include_router(placeholder)
    app.include_router(routes.router)
    for router in pages.routers():
        app.include_router(router)
    routes.install_errors(app)
