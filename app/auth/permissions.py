"""The role -> permission table of API.md section 2, as data. Routes name a permission, never a role."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    LEAD_OFFICE = "lead_office"
    FINANCE_OFFICE = "finance_office"
    UNIT = "unit"
    VIEWER = "viewer"


class Perm(StrEnum):
    CATALOGUE_READ = "catalogue:read"  # units, activities, contests, budget rounds
    CATALOGUE_WRITE = "catalogue:write"  # units, activities, budget rounds
    ADMIN = "admin"  # users, api-clients
    RECORDS_READ = "records:read"
    RECORDS_WRITE = "records:write"
    RECORDS_BACKFILL = "records:backfill"  # set what the server else owns (an annual report's submitted_at)
    BUDGET_READ = "budget:read"  # non-draft submissions of every unit, round summaries
    BUDGET_OWN = "budget:own"  # create, edit, submit, withdraw for the principal's own unit
    BUDGET_REVIEW = "budget:review"  # return, forward
    BUDGET_DECIDE = "budget:decide"  # appraise, approve, reject
    KPIS_READ = "kpis:read"
    AUDIT_READ = "audit:read"
    IMPORT = "import"
    IMPORT_UNITS = "import:units"
    WEBHOOKS = "webhooks"  # manage webhook endpoints (a unit: those of its own unit exactly)


_EVERYONE = {Perm.CATALOGUE_READ, Perm.RECORDS_READ, Perm.KPIS_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.LEAD_OFFICE: frozenset(
        _EVERYONE
        | {
            Perm.CATALOGUE_WRITE,
            Perm.ADMIN,
            Perm.RECORDS_WRITE,
            Perm.RECORDS_BACKFILL,
            Perm.BUDGET_READ,
            Perm.BUDGET_OWN,
            Perm.BUDGET_REVIEW,
            Perm.AUDIT_READ,
            Perm.IMPORT,
            Perm.IMPORT_UNITS,
            Perm.WEBHOOKS,
        }
    ),
    Role.FINANCE_OFFICE: frozenset(_EVERYONE | {Perm.BUDGET_READ, Perm.BUDGET_DECIDE}),
    Role.UNIT: frozenset(_EVERYONE | {Perm.RECORDS_WRITE, Perm.BUDGET_OWN, Perm.IMPORT, Perm.WEBHOOKS}),
    Role.VIEWER: frozenset(_EVERYONE | {Perm.BUDGET_READ}),
}

# Roles whose reads and writes of operational records are limited to their unit's subtree.
SUBTREE_SCOPED_ROLES = frozenset({Role.UNIT})


_BY_NAME: dict[str, frozenset[Perm]] = {str(role): perms for role, perms in ROLE_PERMISSIONS.items()}


def has(role: str, perm: Perm) -> bool:
    return perm in _BY_NAME.get(str(role), frozenset())
