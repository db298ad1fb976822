"""Every table, imported here so that Alembic sees one metadata."""

from app.models.activities import Activity, ActivityReport, ActivityUnit
from app.models.auth import ApiClient, User
from app.models.system import AuditEvent, IdempotencyKey
from app.models.units import Unit

__all__ = [
    "Activity",
    "ActivityReport",
    "ActivityUnit",
    "ApiClient",
    "AuditEvent",
    "IdempotencyKey",
    "Unit",
    "User",
]
