"""Every table, imported here so that Alembic sees one metadata."""

from app.models.activities import Activity, ActivityReport, ActivityUnit
from app.models.auth import ApiClient, User
from app.models.budget import BudgetItem, BudgetRound, BudgetSubmission, BudgetTransition
from app.models.plans import Plan, PlanTarget
from app.models.records import (
    Airing,
    AnnualReport,
    Broadcast,
    Contest,
    ContestEntry,
    Forum,
    SatisfactionSurvey,
    Training,
    TrainingParticipant,
    UnitPlan,
)
from app.models.system import AuditEvent, IdempotencyKey, MonthTally, RateLimitCounter, RecordCount
from app.models.units import Unit
from app.models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "Airing",
    "AnnualReport",
    "Broadcast",
    "BudgetItem",
    "BudgetRound",
    "BudgetSubmission",
    "BudgetTransition",
    "Contest",
    "ContestEntry",
    "Forum",
    "Plan",
    "PlanTarget",
    "SatisfactionSurvey",
    "Training",
    "TrainingParticipant",
    "UnitPlan",
    "Activity",
    "ActivityReport",
    "ActivityUnit",
    "ApiClient",
    "AuditEvent",
    "IdempotencyKey",
    "RateLimitCounter",
    "MonthTally",
    "RecordCount",
    "Unit",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
