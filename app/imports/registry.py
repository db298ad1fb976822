"""Which resources import, and how each matches its rows (API.md section 7)."""

from __future__ import annotations

from enum import StrEnum

from app.imports.engine import ImportSpec


class ImportResource(StrEnum):
    UNITS = "units"
    UNIT_PLANS = "unit-plans"
    BROADCASTS = "broadcasts"
    FORUMS = "forums"
    TRAININGS = "trainings"
    SATISFACTION_SURVEYS = "satisfaction-surveys"
    CONTEST_ENTRIES = "contest-entries"


def import_spec(resource: ImportResource) -> ImportSpec | None:
    """The resource's import spec (imported lazily so that every domain package stays independent)."""
    if resource is ImportResource.UNITS:
        from app.units.service import spec

        return ImportSpec(spec, match_on=("code",), unit_code=False)
    return None
