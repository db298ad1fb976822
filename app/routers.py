"""Every /api/v1 router, in the order the OpenAPI document lists them. Add a new resource here."""

from app.activities.router import router as activities_router
from app.audit.router import router as audit_router
from app.auth.router import clients_router, users_router
from app.auth.router import router as auth_router
from app.kpis.router import router as kpis_router
from app.reports.router import router as reports_router
from app.units.router import router as units_router

API_ROUTERS = [
    auth_router,
    users_router,
    clients_router,
    units_router,
    activities_router,
    kpis_router,
    reports_router,
    audit_router,
]
