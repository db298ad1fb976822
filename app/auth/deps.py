"""Named dependency aliases: each hands over the principal already checked for one permission (403 before
the endpoint runs), so that endpoints and services need not check it again."""

from __future__ import annotations

from typing import Annotated, Any

from app.auth.permissions import Perm
from app.auth.principal import Principal, require


def holding(perm: Perm) -> Any:
    """`Annotated[Principal, ...]` of a principal whose role holds `perm` (for permissions chosen at run time,
    e.g. a resource's own write permission)."""
    return Annotated[Principal, require(perm)]


CatalogueReader = holding(Perm.CATALOGUE_READ)
CatalogueWriter = holding(Perm.CATALOGUE_WRITE)
RecordsReader = holding(Perm.RECORDS_READ)
RecordsWriter = holding(Perm.RECORDS_WRITE)
Admin = holding(Perm.ADMIN)
BudgetReader = holding(Perm.BUDGET_READ)
AuditReader = holding(Perm.AUDIT_READ)
Importer = holding(Perm.IMPORT)
KpisReader = holding(Perm.KPIS_READ)
