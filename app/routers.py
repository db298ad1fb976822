"""Every /api/v1 router, in the order the OpenAPI document lists them. Add a new resource here."""

from app.activities.router import router as activities_router
from app.annual_reports.router import router as annual_reports_router
from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.broadcasts.router import router as broadcasts_router
from app.budget.router import rounds_router as budget_rounds_router
from app.budget.router import router as budget_submissions_router
from app.contests.router import router as contests_router
from app.forums.router import router as forums_router
from app.imports.router import router as imports_router
from app.kpis.router import router as kpis_router
from app.obligations.router import router as obligations_router
from app.plans.router import router as plans_router
from app.reports.router import router as reports_router
from app.surveys.router import router as satisfaction_surveys_router
from app.trainings.router import router as trainings_router
from app.unit_plans.router import router as unit_plans_router
from app.units.router import router as units_router
from app.users.router import clients_router, users_router
from app.webhooks.router import router as webhooks_router

API_ROUTERS = [
    auth_router,
    users_router,
    clients_router,
    units_router,
    plans_router,
    activities_router,
    imports_router,
    budget_rounds_router,
    budget_submissions_router,
    broadcasts_router,
    trainings_router,
    contests_router,
    unit_plans_router,
    annual_reports_router,
    forums_router,
    satisfaction_surveys_router,
    kpis_router,
    obligations_router,
    reports_router,
    audit_router,
    webhooks_router,
]
